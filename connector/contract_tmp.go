package connector

// Until the contract lands on main (workflows/sourcecontract.go): private
// copies, removed then.

type stepInput struct {
	RequestID    string
	DataSourceID string
	Step         string
}

type stepResult struct {
	Step      string
	Subjects  int
	Rows      int64
	FileID    string
	SHA256    string
	Size      int64
	Remaining int64
}

const (
	stepIdentify = "identify"
	stepExport   = "export"
	stepCount    = "count"
	stepErase    = "erase"
	stepVerify   = "verify"

	errConnectorConfig = "ConnectorConfig"
	errConnectorAuth   = "ConnectorAuth"
	errConnectorSchema = "ConnectorSchema"
)
