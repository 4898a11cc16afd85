package dsar

import (
	"fmt"
	"time"
)

// LoadZone loads the IANA time zone name (a jurisdiction rule's Timezone).
// "Local" is refused: it is whatever the machine is set to, so two workers
// would count a request's days differently.
func LoadZone(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, fmt.Errorf("time zone %q: name an IANA zone such as America/Los_Angeles", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

// zoneWords are the zones of the shipped rules as people name them.
var zoneWords = map[string]string{
	"America/Los_Angeles":          "Pacific time",
	"America/Denver":               "Mountain time",
	"America/Chicago":              "Central time",
	"America/New_York":             "Eastern time",
	"America/Indiana/Indianapolis": "Eastern time",
	"America/Toronto":              "Eastern time",
	"America/Sao_Paulo":            "Brasília time",
	"Europe/London":                "UK time",
	"UTC":                          "UTC",
}

// ZoneWords says the time zone name as people do ("Pacific time"); a zone
// no shipped rule uses is said by its IANA name, and none ("") is UTC.
func ZoneWords(name string) string {
	if name == "" {
		return "UTC"
	}
	if w, ok := zoneWords[name]; ok {
		return w
	}
	return name
}

// Zone is the time zone the rule with id reads its days in, and its IANA
// name: UTC and "" for a rule without one, the default deadline, or an id
// no rule has any more. A zone that does not load (start-up refuses one)
// is UTC too.
func (rs Rules) Zone(id string) (*time.Location, string) {
	r, ok := rs.ByID(id)
	if !ok || r.Timezone == "" {
		return time.UTC, ""
	}
	loc, err := LoadZone(r.Timezone)
	if err != nil {
		return time.UTC, ""
	}
	return loc, r.Timezone
}
