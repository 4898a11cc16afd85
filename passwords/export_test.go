package passwords

// ListText is the embedded list, for the external tests.
func ListText() string { return commonText }
