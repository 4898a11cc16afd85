package connector

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-sql-driver/mysql"
	"github.com/lib/pq"
	"go.temporal.io/sdk/temporal"

	"github.com/opendsar/dsar/workflows"
)

// A step's failure is either one no retry can fix, returned as a
// non-retryable temporal.ApplicationError whose type says what to fix
// (the task then needs attention until staff retry it), or anything else
// (the database or the service unreachable, a timeout): retried by the
// activity's policy, with back-off, until it works.

// nonRetryable is a failure of type kind, in words for people: no row's
// data, no credentials.
func nonRetryable(kind, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), kind, nil)
}

// classify turns a database error of step into the failure to return:
// bad credentials are ConnectorAuth, a missing table or column or a broken
// constraint ConnectorSchema, a statement the database cannot run or a
// value that does not fit ConnectorConfig, anything else (the network, a
// timeout) is returned to be retried. A database message that may quote a
// row's value is never passed on.
func classify(sourceID, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	where := fmt.Sprintf("source %s, %s", sourceID, what)
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000": // invalid_password, invalid_authorization_specification
			return nonRetryable(workflows.ErrConnectorAuth, "%s: the database refused the connector's credentials (%s %s); fix dsn in the connector's config", where, pe.Code, pe.Code.Name())
		case "42501": // insufficient_privilege
			return nonRetryable(workflows.ErrConnectorAuth, "%s: the connector's database user lacks a privilege (%s): %s", where, pe.Code, pe.Message)
		case "42P01", "42703", "42883", "3F000": // undefined table, column, function; schema
			return nonRetryable(workflows.ErrConnectorSchema, "%s: the statement does not fit the database (%s %s): %s", where, pe.Code, pe.Code.Name(), pe.Message)
		case "3D000": // invalid_catalog_name: no such database
			return nonRetryable(workflows.ErrConnectorConfig, "%s: no such database (%s); fix dsn in the connector's config", where, pe.Code)
		}
		switch pe.Code.Class() {
		case "42": // syntax or access rule: the message quotes the statement, not a row
			return nonRetryable(workflows.ErrConnectorConfig, "%s: the database cannot run the statement (%s %s): %s", where, pe.Code, pe.Code.Name(), pe.Message)
		case "22": // data exception: the message quotes the value (a key, the email), so it is left out
			return nonRetryable(workflows.ErrConnectorConfig, "%s: the statement does not fit the data it is given or reads (%s %s); check the parameters' types", where, pe.Code, pe.Code.Name())
		case "23": // integrity constraint: the statements' order or the schema; a retry fails the same way
			return nonRetryable(workflows.ErrConnectorSchema, "%s: the statement breaks a constraint of the database (%s %s%s); check the order of the statements",
				where, pe.Code, pe.Code.Name(), constraintOf(pe))
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045, 1044, 1698: // access denied (user, database, socket auth)
			return nonRetryable(workflows.ErrConnectorAuth, "%s: the database refused the connector's credentials (MySQL error %d); fix dsn in the connector's config", where, me.Number)
		case 1142, 1143: // command or column denied to the user
			return nonRetryable(workflows.ErrConnectorAuth, "%s: the connector's database user lacks a privilege (MySQL error %d)", where, me.Number)
		case 1146, 1054, 1305: // no such table, unknown column, no such function
			return nonRetryable(workflows.ErrConnectorSchema, "%s: the statement does not fit the database (MySQL error %d): %s", where, me.Number, me.Message)
		case 1049: // unknown database
			return nonRetryable(workflows.ErrConnectorConfig, "%s: no such database (MySQL error %d); fix dsn in the connector's config", where, me.Number)
		case 1064, 1210, 1149: // syntax, wrong arguments
			return nonRetryable(workflows.ErrConnectorConfig, "%s: the database cannot run the statement (MySQL error %d): %s", where, me.Number, me.Message)
		case 1062, 1451, 1452, 1048, 1364: // duplicate key, foreign key, a column that cannot be null or has no default
			// The message may quote the row's values: only the number.
			return nonRetryable(workflows.ErrConnectorSchema, "%s: the statement breaks a constraint of the database (MySQL error %d); check the order of the statements", where, me.Number)
		case 1292, 1366, 1406, 1264: // a value that does not fit its column or comparison
			return nonRetryable(workflows.ErrConnectorConfig, "%s: the statement does not fit the data it is given or reads (MySQL error %d); check the parameters' types", where, me.Number)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// constraintOf names the constraint a Postgres error broke, if it says.
func constraintOf(pe *pq.Error) string {
	if pe.Constraint == "" {
		return ""
	}
	return ", constraint " + strconv.Quote(pe.Constraint)
}
