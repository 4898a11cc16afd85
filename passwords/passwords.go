// Package passwords holds the rules a new password must meet (NIST SP
// 800-63B): a length, longer for staff than for requesters, no composition
// rules, and not one of the passwords most common in breaches, from a list
// shipped in the binary (common.txt, written by gen.go), so the check needs
// no network.
package passwords

import (
	_ "embed"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Password lengths, in characters.
const (
	MinStaff  = 12  // staff accounts, which reach every request
	MinPortal = 8   // requesters' portal accounts, which reach their own requests
	Max       = 128 // any password: argon2id's input stays small
)

//go:embed common.txt
var commonText string

// common is the list, sorted, split once on first use.
var common = sync.OnceValue(func() []string {
	return strings.Split(strings.TrimSuffix(commonText, "\n"), "\n")
})

// Common reports whether password is on the list of common passwords,
// ignoring case (the list is in lower case).
func Common(password string) bool {
	_, found := slices.BinarySearch(common(), strings.ToLower(password))
	return found
}

// Check returns why password cannot be a new password of at least min
// characters, in words for the person choosing it, or "" if it can.
func Check(password string, min int) string {
	n := utf8.RuneCountInString(password)
	switch {
	case n < min:
		return "must be at least " + strconv.Itoa(min) + " characters"
	case n > Max:
		return "must be at most " + strconv.Itoa(Max) + " characters"
	case Common(password):
		return "is one of the most common passwords, which attackers try first: choose another"
	}
	return ""
}
