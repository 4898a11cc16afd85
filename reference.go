package dsar

import "strings"

// ReferencePrefix starts every request reference.
const ReferencePrefix = "DSR-"

// Reference is the short name of a request that people quote: in the queue,
// on the request page, in mail and on the portal. It is "DSR-" and the first
// eight hex digits of the request's id, upper-cased ("DSR-0B5F7A3E"), so it
// needs no column of its own and every layer derives the same one. Eight
// digits may, rarely, be shared by two requests; a search by reference
// lists both.
func Reference(id string) string {
	hex := strings.ReplaceAll(id, "-", "")
	if len(hex) > 8 {
		hex = hex[:8]
	}
	return ReferencePrefix + strings.ToUpper(hex)
}

// ParseReference reads what a person types to find a request by reference:
// a reference ("DSR-0B5F7A3E", any case, the prefix optional) or a whole
// request id. It returns the lower-case hex digits the request's id starts
// with (8, or all 32 for a whole id), and false for anything else.
func ParseReference(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= len(ReferencePrefix) && strings.EqualFold(s[:len(ReferencePrefix)], ReferencePrefix) {
		s = s[len(ReferencePrefix):]
	}
	hex := strings.ToLower(s)
	if len(hex) == 36 { // a whole id, dashes where a UUID has them
		if hex[8] != '-' || hex[13] != '-' || hex[18] != '-' || hex[23] != '-' {
			return "", false
		}
		hex = strings.ReplaceAll(hex, "-", "")
	}
	if len(hex) != 8 && len(hex) != 32 {
		return "", false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return hex, true
}
