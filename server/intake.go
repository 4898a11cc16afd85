package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"

	"github.com/opendsar/dsar"
	"github.com/opendsar/dsar/holidays"
	"github.com/opendsar/dsar/locale"
	"github.com/opendsar/dsar/store"
	"github.com/opendsar/dsar/workflows"
)

// intakeRoutes are the public routes: the form, the captcha, submission and
// email verification. See docs/intake.md.
func (s *Server) intakeRoutes() {
	r := s.engine
	// Submissions and confirmations have budgets of their own: many people
	// behind one address (an office, a mobile carrier) confirm their own
	// requests however many forms the others send.
	submit := s.rateLimit(NewLimiter(s.Config.Intake.RatePerMinute))
	verify := s.rateLimit(NewLimiter(s.Config.Intake.VerifyPerMinute))
	r.GET("/", s.formPage)
	r.GET("/embed", s.formPage)
	r.POST("/", submit, s.submitForm)
	r.POST("/embed", submit, s.submitForm)
	r.GET("/submitted", s.submittedPage)
	r.GET("/api/v1/captcha", s.captcha)
	r.POST("/api/v1/requests", submit, s.submitAPI)
	r.GET("/verify-email", s.verifyPage)
	r.POST("/verify-email", verify, s.verifyForm)
	r.POST("/api/v1/email-verifications", verify, s.verifyAPI)
	s.mailboxRoutes()
}

// Limits of the form's fields, in characters.
const (
	maxNameLen        = 100
	maxEmailLen       = 254
	maxDescriptionLen = 5000
	maxIdemKeyLen     = 255
)

// idempotencyScope is the scope of Idempotency-Key values of submissions.
const idempotencyScope = "POST /api/v1/requests"

// manualScope is the scope of Idempotency-Key values of requests staff
// record, one per staff member (the user id follows it).
const manualScope = "POST /api/v1/requests/manual"

// submission is a request as submitted, validated.
type submission struct {
	FirstName     string
	LastName      string
	Email         string
	Country       string
	Region        string
	RequestorType dsar.RequestorType
	RequestType   dsar.RequestType
	Description   string
	Captcha       string
	Language      locale.Lang // what the requester is answered in; "" is the page's
	FormKey       string      // the HTML form's own Idempotency-Key
	ClientIP      string      // whose network an unconfirmed request counts in
	Document      []byte      // re-encoded
	DocumentType  string
	// Manual is set when staff record a request that arrived another way
	// (manual.go): no captcha, no document, received at ReceivedAt.
	Manual     *workflows.ManualIntake
	ReceivedAt time.Time
	hash       string // of everything submitted, for Idempotency-Key
}

// scope is the Idempotency-Key scope of the submission: the form's, or the
// recording staff member's own.
func (sub submission) scope() string {
	if sub.Manual != nil {
		return manualScope + " " + sub.Manual.RecordedBy
	}
	return idempotencyScope
}

// created is the status of the answer to a new request: 202 for the form
// (the requester has yet to verify), 201 for a request staff recorded.
func (sub submission) created() int {
	if sub.Manual != nil {
		return http.StatusCreated
	}
	return http.StatusAccepted
}

// digest hashes values, each delimited by its length, into a hex string
// prefixed by extra bytes (the document's hash).
func digest(extra []byte, values ...string) string {
	h := sha256.New()
	for _, v := range values {
		fmt.Fprintf(h, "%d:%s\x00", len(v), v)
	}
	h.Write(extra)
	return hex.EncodeToString(h.Sum(nil))
}

// formValues are the text fields of the form as typed, to show again.
type formValues map[string]string

// submitted is the answer to a new request.
type submitted struct {
	ID     string      `json:"id"`
	Status dsar.Status `json:"status"`
	// EmailConfirmationRequired is false for an opt-out the workflow
	// accepts at submission (acceptedAtSubmission): it goes on without
	// the requester confirming their address. Status stays the one the
	// request is created with, as the contract gives it.
	EmailConfirmationRequired bool `json:"email_confirmation_required"`
}

// maxFormText bounds the text parts of a submission together.
const maxFormText = 1 << 20

// textFields are the form's text fields a submission keeps.
var textFields = []string{"first_name", "last_name", "email", "country", "region", "requestor_type", "request_type", "description", "captcha", "form_key", "language"}

// uploadGate decides, before a submission's identity document is read,
// whether it is worth reading: sub holds the text fields sent before it,
// seen names them. An error refuses the submission unread.
type uploadGate func(ctx context.Context, sub submission, seen map[string]bool) error

// readSubmission reads and validates the multipart body of a submission,
// part by part, as it arrives: the identity document is read only once gate
// (if not nil) has passed what came before it, so a submission whose
// captcha is missing, wrong or used, or that is beyond the limits of
// unconfirmed requests, costs neither the upload nor its decoding. It
// always returns what was typed (for the form to show again) and, on
// error, a *dsar.Error: EUNSUPPORTED for a body that is not multipart or a
// document that is not JPEG/PNG/PDF, ETOOLARGE beyond
// intake.max_upload_bytes, EINVALID naming every bad field, or what gate
// returned.
func (s *Server) readSubmission(c *gin.Context, gate uploadGate) (submission, formValues, error) {
	vals := formValues{}
	if c.ContentType() != "multipart/form-data" {
		return submission{}, vals, dsar.Errorf(dsar.EUNSUPPORTED, "send the request as multipart/form-data")
	}
	maxDoc := s.Config.Intake.MaxUploadBytes
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxDoc+maxFormText+64<<10) // and the parts' headers
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return submission{}, vals, dsar.Errorf(dsar.EBADREQUEST, "the body is not a valid multipart form")
	}
	bodyErr := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(maxDoc)
		}
		return dsar.Errorf(dsar.EBADREQUEST, "the body is not a valid multipart form")
	}
	text := map[string]string{}
	seen := map[string]bool{}
	textBytes := 0
	var raw []byte
	haveDoc, gated := false, false
	ctx := c.Request.Context()
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return submission{}, valuesOf(text), bodyErr(err)
		}
		name := p.FormName()
		if name == "identity_document" && p.FileName() != "" {
			if haveDoc {
				continue // only the first counts; the body's limit bounds the rest
			}
			if gate != nil {
				if err := gate(ctx, submissionOf(text), seen); err != nil {
					return submission{}, valuesOf(text), err
				}
			}
			gated = true
			if raw, err = readPart(p, maxDoc); err != nil {
				if dsar.ErrorCode(err) == dsar.ETOOLARGE {
					return submission{}, valuesOf(text), err
				}
				return submission{}, valuesOf(text), bodyErr(err)
			}
			haveDoc = true
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, int64(maxFormText-textBytes+1)))
		if err != nil {
			return submission{}, valuesOf(text), bodyErr(err)
		}
		if textBytes += len(v); textBytes > maxFormText {
			return submission{}, valuesOf(text), dsar.Errorf(dsar.ETOOLARGE, "the form's text fields are larger than %s together", humanBytes(maxFormText))
		}
		if _, ok := text[name]; !ok && name != "" {
			text[name], seen[name] = string(v), true
		}
	}
	vals = valuesOf(text)
	sub := submissionOf(text)
	if sub.Language == "" {
		sub.Language = langOf(c)
	}
	bad := validate(sub, s.Config.Intake.CaptchaDisabled)
	noDocument := s.documentForbidden(sub)
	if !haveDoc {
		if !noDocument {
			bad["identity_document"] = "attach a photo or scan of an identity document (JPEG, PNG or PDF)"
		}
		if gate != nil && !gated {
			var de *dsar.Error
			if err := gate(ctx, sub, seen); errors.As(err, &de) && de.Code == dsar.EINVALID {
				maps.Copy(bad, de.Fields)
			} else if err != nil {
				return submission{}, vals, err
			}
		}
	}
	if len(bad) > 0 {
		return submission{}, vals, dsar.Invalid(bad)
	}
	if noDocument {
		// The law forbids requiring proof of identity for this request: a
		// document sent anyway is not kept (nothing would ever look at it).
		raw = nil
	} else {
		doc, ct, err := checkDocument(raw)
		if err != nil {
			return submission{}, vals, err
		}
		sub.Document, sub.DocumentType = doc, ct
	}
	docHash := sha256.Sum256(raw)
	sub.hash = digest(docHash[:], sub.FirstName, sub.LastName, sub.Email, sub.Country, sub.Region,
		string(sub.RequestorType), string(sub.RequestType), sub.Description, sub.Captcha, string(sub.Language))
	return sub, vals, nil
}

// acceptedAtSubmission reports whether the workflow accepts the request at
// submission, without the requester confirming their address: an opt-out
// whose rule forbids requiring a verifiable request, for which no document
// is asked either (documentForbidden).
func (s *Server) acceptedAtSubmission(sub submission) bool { return s.documentForbidden(sub) }

// submittedAnswer is the answer to a new request: its id and the status it
// is created with; the workflow moves an opt-out accepted at submission on
// from there in its first step.
func (s *Server) submittedAnswer(id string, sub submission) []byte {
	body, _ := json.Marshal(submitted{ID: id, Status: dsar.StatusPendingEmailVerification,
		EmailConfirmationRequired: !s.acceptedAtSubmission(sub)})
	return body
}

// documentForbidden reports whether the jurisdiction rule covering the
// submission puts its request type on a track where the law forbids
// requiring proof of identity (a California opt-out): the form then asks
// for no document, and one sent is not kept.
func (s *Server) documentForbidden(sub submission) bool {
	rule, ok := s.Config.Jurisdictions.Match(sub.Country, sub.Region)
	tr := rule.OptOutTrack(sub.RequestType)
	return ok && tr != nil && tr.NoIdentityDocument
}

// noDocumentRule is a jurisdiction rule as the form's script reads it to
// hide the document field: whom it covers, in the table's order (a rule
// naming the region wins), and the request types it asks no document for.
type noDocumentRule struct {
	Countries []string `json:"countries"`
	Regions   []string `json:"regions"`
	Types     []string `json:"types"`
}

// noDocumentRules is the jurisdiction table for the form's script.
func (s *Server) noDocumentRules() []noDocumentRule {
	out := []noDocumentRule{}
	for _, r := range s.Config.Jurisdictions {
		nd := noDocumentRule{Countries: r.Countries, Regions: r.Regions, Types: []string{}}
		for _, t := range dsar.RequestTypes {
			if tr := r.OptOutTrack(t); tr != nil && tr.NoIdentityDocument {
				nd.Types = append(nd.Types, string(t))
			}
		}
		out = append(out, nd)
	}
	return out
}

// valuesOf is what was typed into the form's text fields, trimmed, to show
// the form again.
func valuesOf(text map[string]string) formValues {
	vals := formValues{}
	for _, k := range textFields {
		if k != "captcha" && k != "form_key" && k != "language" {
			vals[k] = strings.TrimSpace(text[k])
		}
	}
	vals["country"] = strings.ToUpper(vals["country"])
	vals["region"] = strings.ToUpper(vals["region"])
	return vals
}

// submissionOf is the submission of the text fields, not yet validated.
func submissionOf(text map[string]string) submission {
	vals := valuesOf(text)
	return submission{
		FirstName: vals["first_name"], LastName: vals["last_name"], Email: vals["email"],
		Country: vals["country"], Region: vals["region"],
		RequestorType: dsar.RequestorType(vals["requestor_type"]), RequestType: dsar.RequestType(vals["request_type"]),
		Description: vals["description"], Captcha: strings.TrimSpace(text["captcha"]), FormKey: text["form_key"],
		Language: locale.Lang(strings.ToLower(strings.TrimSpace(text["language"]))),
	}
}

// readPart reads an uploaded file's part, at most maxBytes: ETOOLARGE
// beyond, without reading further.
func readPart(p io.Reader, maxBytes int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(p, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	return data, nil
}

// admitUpload is the upload gate of the public form: before the identity
// document is read, the text sent before it must be valid, the captcha must
// have come before it and be right, unexpired and unused, and one more
// unconfirmed request must fit the caps of its email (when sent already)
// and its client's network and the byte budget (see store.IntakeLimits).
// EINVALID names every bad field; the limits answer 429 or 503. form says
// where the Idempotency-Key is: the form's form_key field, or the header.
func (s *Server) admitUpload(c *gin.Context, form bool) uploadGate {
	return func(ctx context.Context, sub submission, seen map[string]bool) error {
		bad := map[string]string{}
		for k, why := range validate(sub, s.Config.Intake.CaptchaDisabled) {
			if seen[k] && k != "captcha" {
				bad[k] = why
			}
		}
		var red *store.CaptchaRedemption
		switch {
		case s.Config.Intake.CaptchaDisabled && sub.Captcha == "":
		case !seen["captcha"]:
			bad["captcha"] = "solve the captcha; it must come before identity_document in the form"
		default:
			var err error
			if red, err = s.checkCaptcha(sub.Captcha); err != nil {
				var de *dsar.Error
				if !errors.As(err, &de) {
					return err
				}
				maps.Copy(bad, de.Fields)
			}
		}
		if len(bad) > 0 {
			return dsar.Invalid(bad)
		}
		if red != nil {
			used, by, err := s.DB.CaptchaRedeemedBy(ctx, red.Signature)
			if err != nil {
				return err
			}
			if used {
				// A retry with a key already claimed (a double click) is
				// answered from the key, and a retry of the very submission
				// that redeemed the captcha (its first attempt ended
				// unanswered) is settled by it, once the body is read; with
				// no key, or another one, a used captcha is refused unread.
				key := c.GetHeader("Idempotency-Key")
				if form {
					key = sub.FormKey
				}
				retry := false
				if key != "" && len(key) <= maxIdemKeyLen {
					if retry, err = s.DB.IdempotentClaimed(ctx, idempotencyScope, key); err != nil {
						return err
					}
					retry = retry || (by != "" && by == s.captchaRedeemer(key))
				}
				if !retry {
					return dsar.Invalid(map[string]string{"captcha": "this captcha was already used; solve a new one"})
				}
			}
		}
		var emailKey []byte
		if seen["email"] {
			emailKey = s.Keys.BlindIndex(sub.Email)
		}
		return s.DB.IntakeHoldRefusal(ctx, emailKey, s.networkKey(c.ClientIP()), s.intakeLimits())
	}
}

var regionRE = regexp.MustCompile(`^[A-Z]{2}-[A-Z0-9]{1,3}$`)

// validate checks the text fields and returns the bad ones with why.
func validate(s submission, captchaDisabled bool) map[string]string {
	bad := map[string]string{}
	text := func(field, v string, max int, what string) {
		switch {
		case v == "":
			bad[field] = "enter " + what
		case !utf8.ValidString(v):
			bad[field] = "is not valid text"
		case utf8.RuneCountInString(v) > max:
			bad[field] = fmt.Sprintf("must be at most %d characters", max)
		}
	}
	line := func(field, v string) {
		if _, ok := bad[field]; !ok && strings.ContainsFunc(v, unicode.IsControl) {
			bad[field] = "must be a single line of text"
		}
	}
	text("first_name", s.FirstName, maxNameLen, "your first name")
	line("first_name", s.FirstName)
	text("last_name", s.LastName, maxNameLen, "your last name")
	line("last_name", s.LastName)
	text("email", s.Email, maxEmailLen, "your email address")
	if _, ok := bad["email"]; !ok && !validEmail(s.Email) {
		bad["email"] = "enter an email address like name@example.com"
	}
	text("description", s.Description, maxDescriptionLen, "a description of your request")
	if _, ok := bad["description"]; !ok && strings.ContainsFunc(s.Description, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	}) {
		bad["description"] = "holds characters that are not text"
	}
	if !knownCountry(s.Country) {
		bad["country"] = "choose your country of residence"
		if s.Country != "" {
			bad["country"] = "is not an ISO 3166-1 country code"
		}
	}
	if s.Region != "" {
		if !validRegion(s.Country, s.Region) {
			bad["region"] = "is not a subdivision of the chosen country (ISO 3166-2, like US-CA)"
		}
	}
	if !s.RequestorType.Valid() {
		bad["requestor_type"] = "choose customer, employee or other"
	}
	if !s.RequestType.Valid() {
		bad["request_type"] = "choose the type of request"
	}
	if s.Language != "" && !s.Language.Valid() {
		bad["language"] = "must be one of en, de, fr, es"
	}
	if s.Captcha == "" && !captchaDisabled {
		bad["captcha"] = "solve the captcha (it needs JavaScript)"
	}
	return bad
}

// validEmail accepts a bare address (no display name) with a dotted domain.
func validEmail(v string) bool {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(v, '@')
	domain := v[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.ContainsAny(v, " \t")
}

func knownCountry(code string) bool {
	for _, c := range countries() {
		if c.Code == code {
			return true
		}
	}
	return false
}

// validRegion accepts a listed subdivision of country, or, for a country
// without a list, any well-formed ISO 3166-2 code of it.
func validRegion(country, region string) bool {
	if !strings.HasPrefix(region, country+"-") || !regionRE.MatchString(region) {
		return false
	}
	list, ok := regionsOf()[country]
	if !ok {
		return true
	}
	for _, r := range list {
		if r.Code == region {
			return true
		}
	}
	return false
}

// submit stores a validated submission and starts its workflow, honouring
// idemKey (may be empty). It returns the answer, which for a repeated key is
// the first one. See docs/intake.md for why no acknowledged request can be
// lost and no failed one stays visible. A request staff record (sub.Manual)
// takes the same path.
func (s *Server) submit(ctx context.Context, sub submission, idemKey string) (int, []byte, error) {
	if idemKey != "" {
		prev, err := s.DB.BeginIdempotent(ctx, sub.scope(), idemKey, sub.hash)
		if err != nil {
			return 0, nil, err
		}
		if prev != nil {
			return prev.Status, prev.Body, nil
		}
	}
	// From here on, finish what was begun even if the client goes away.
	ctx = context.WithoutCancel(ctx)
	id := uuid.NewString()
	var (
		status int
		body   []byte
		done   bool
		err    error
	)
	if idemKey != "" {
		// The id follows from the key, so a retry that takes over the claim
		// of a process that died mid-request finds what that one created.
		id = uuid.NewSHA1(idempotencyIDSpace, []byte(idemKey+"\x00"+sub.hash)).String()
		status, body, done, err = s.resume(ctx, id, sub)
	}
	if !done && err == nil {
		status, body, err = s.create(ctx, sub, id, idemKey)
	}
	if idemKey != "" {
		if err != nil {
			if rerr := s.DB.ReleaseIdempotent(ctx, sub.scope(), idemKey); rerr != nil {
				s.Log.Error("release idempotency key", "err", rerr)
			}
		} else if ferr := s.DB.FinishIdempotent(ctx, sub.scope(), idemKey, store.Idempotent{Status: status, Body: body}); ferr != nil {
			s.Log.Error("store idempotent answer", "err", ferr)
		}
	}
	return status, body, err
}

// captchaRedeemer is the keyed hash of a submission's Idempotency-Key (or form
// key) that its captcha's redemption remembers.
func (s *Server) captchaRedeemer(idemKey string) string {
	return s.Keys.KeyedToken("intake captcha redeemed by\x00" + idemKey)
}

// idempotencyIDSpace namespaces the request ids derived from
// Idempotency-Key values.
var idempotencyIDSpace = uuid.MustParse("6d1c3f0e-5b7a-4c55-9a0e-2f7d8c1b4e93")

// resume finishes a submission whose request row a dead process already
// wrote (its Idempotency-Key claim was taken over): it makes sure the
// workflow runs and the row is accepted, and answers as the first call
// would have. done is false when there is no such row, or when there was
// one but its workflow never started: then the row is discarded and its
// captcha released, for the caller to make the request again.
func (s *Server) resume(ctx context.Context, id string, sub submission) (status int, body []byte, done bool, err error) {
	accepted, err := s.DB.RequestAccepted(ctx, id)
	if dsar.ErrorCode(err) == dsar.ENOTFOUND {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, true, err
	}
	if !accepted {
		sctx, cancel := context.WithTimeout(ctx, workflowStartTimeout)
		defer cancel()
		_, derr := s.Temporal.DescribeWorkflowExecution(sctx, workflows.WorkflowID(id), "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(derr, &nf):
			// The workflow never started: nobody was told of this request.
			// Its row and its captcha's redemption were written together
			// by this very submission (the id follows from the key and the
			// body), so both go, and the request is made again.
			if err := s.DB.DiscardRequest(ctx, id); err != nil {
				return 0, nil, true, err
			}
			if red, cerr := s.checkCaptcha(sub.Captcha); cerr == nil {
				if err := s.DB.ReleaseCaptcha(ctx, red.Signature); err != nil {
					return 0, nil, true, err
				}
			}
			return 0, nil, false, nil
		case derr != nil:
			s.Log.Warn("resume request: describe workflow", "id", id, "err", derr)
			return 0, nil, true, dsar.Errorf(dsar.EUNAVAILABLE, "the service cannot take requests right now; please try again in a few minutes")
		}
		if err := s.DB.AcceptRequest(ctx, id); err != nil {
			return 0, nil, true, err
		}
	}
	if err := s.auditRecorded(ctx, id, sub); err != nil {
		return 0, nil, true, err
	}
	return sub.created(), s.submittedAnswer(id, sub), true, nil
}

// workflowStartTimeout bounds the wait for Temporal when starting a
// request's workflow; beyond it the request is refused with 503.
const workflowStartTimeout = 10 * time.Second

// create checks the captcha, inserts the request unaccepted, starts its
// workflow and accepts it. A request staff record has no captcha and counts
// from when it was received.
func (s *Server) create(ctx context.Context, sub submission, id, idemKey string) (int, []byte, error) {
	var redemption *store.CaptchaRedemption
	if sub.Manual == nil && (!s.Config.Intake.CaptchaDisabled || sub.Captcha != "") {
		var err error
		if redemption, err = s.checkCaptcha(sub.Captcha); err != nil {
			return 0, nil, err
		}
		if idemKey != "" {
			redemption.Key = s.captchaRedeemer(idemKey)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	nr := store.NewRequest{
		ID: id, RequestType: sub.RequestType, RequestorType: sub.RequestorType,
		Country: sub.Country, Region: sub.Region, SubmittedAt: now, Language: sub.Language,
		DocumentType: sub.DocumentType, DocumentSize: len(sub.Document), Captcha: redemption,
	}
	if sub.Manual != nil {
		nr.SubmittedAt, nr.Channel, nr.RecordedBy = sub.ReceivedAt, sub.Manual.Channel, sub.Manual.RecordedBy
	} else {
		nr.Hold = &store.IntakeHold{NetworkKey: s.networkKey(sub.ClientIP), Limits: s.intakeLimits()}
	}
	var err error
	nr.Deadline, nr.DeadlineRule, nr.DeadlineRuleName, nr.MaxExtension, err = s.deadline(sub.Country, sub.Region, sub.RequestType, nr.SubmittedAt)
	if err != nil {
		return 0, nil, err
	}
	if rule, ok := s.Config.Jurisdictions.Match(sub.Country, sub.Region); ok && rule.ID == nr.DeadlineRule {
		nr.Appeal = rule.Appeal // the rule startWorkflow carries into the workflow
	}
	nr.Sealed, err = store.NewSealedRequest(s.Keys, id, store.PII{
		FirstName: sub.FirstName, LastName: sub.LastName, Email: sub.Email, Description: sub.Description,
	}, sub.Document)
	if err != nil {
		return 0, nil, fmt.Errorf("server: seal request: %w", err)
	}
	if err := s.DB.CreateRequest(ctx, nr); err != nil {
		return 0, nil, err
	}
	if nr.Hold != nil {
		s.captchaLoad.forget()
	}
	if err := s.startWorkflow(ctx, nr, sub.Manual); err != nil {
		if !startRefused(err) {
			// The start may have happened (a timeout, a lost connection):
			// discarding the row could leave a workflow without its request.
			// It stays unaccepted, so invisible, and the reconciliation
			// accepts it if the workflow exists or discards it if not; a
			// retry with the same Idempotency-Key settles it at once.
			s.Log.Warn("request not confirmed: its workflow may or may not have started", "id", id, "err", err)
			return 0, nil, dsar.Errorf(dsar.EUNAVAILABLE, "the service cannot take requests right now; please try again in a few minutes")
		}
		if derr := s.DB.DiscardRequest(ctx, id); derr != nil {
			// The reconciler removes it later; it is not visible meanwhile.
			s.Log.Error("discard request after failed start", "id", id, "err", derr)
		}
		if redemption != nil {
			if rerr := s.DB.ReleaseCaptcha(ctx, redemption.Signature); rerr != nil {
				s.Log.Error("release captcha after failed start", "id", id, "err", rerr)
			}
		}
		s.Log.Warn("request refused: its workflow did not start", "id", id, "err", err)
		return 0, nil, dsar.Errorf(dsar.EUNAVAILABLE, "the service cannot take requests right now; please try again in a few minutes")
	}
	if err := s.DB.AcceptRequest(ctx, id); err != nil {
		// The workflow has started: its first projection sets accepted.
		s.Log.Error("accept request (the workflow will)", "id", id, "err", err)
	}
	if err := s.auditRecorded(ctx, id, sub); err != nil {
		return 0, nil, err
	}
	s.Log.Info("request submitted", "id", id, "type", sub.RequestType, "country", sub.Country, "channel", nr.Channel)
	return sub.created(), s.submittedAnswer(id, sub), nil
}

// deadline applies the jurisdiction rule of the requester's residence (its
// opt-out track for opt-out and do-not-sell requests, business days counted
// with its holiday calendar in its time zone), or the configured default.
func (s *Server) deadline(country, region string, t dsar.RequestType, submitted time.Time) (time.Time, string, string, dsar.Period, error) {
	rule, days, err := s.clockRule(country, region, submitted)
	if err != nil {
		return time.Time{}, "", "", dsar.Period{}, err
	}
	if rule != nil {
		return rule.Due(t, submitted, days), rule.ID, rule.Name, rule.ExtensionFor(t), nil
	}
	return submitted.Add(s.Config.Workflow.DefaultDeadline), "default", "Default deadline",
		dsar.PeriodFromDuration(s.Config.Workflow.DefaultExtension), nil
}

// holidayReach is how far past receipt the holidays a workflow carries go:
// beyond any period, extension, pause and appeal a request can see.
const holidayReach = 3 // years

// clockRule is the jurisdiction rule covering a requester, as the workflow
// carries it, with its business days: the holidays of its calendar from the
// date of receipt in the rule's time zone on; nil when none covers them
// (the default deadline). The error, a zone this binary cannot load, cannot
// happen once config is validated.
func (s *Server) clockRule(country, region string, submitted time.Time) (*dsar.Rule, dsar.Workdays, error) {
	rule, ok := s.Config.Jurisdictions.Match(country, region)
	if !ok {
		return nil, dsar.Workdays{}, nil
	}
	days, err := rule.Workdays(nil)
	if err != nil {
		return nil, dsar.Workdays{}, fmt.Errorf("server: clocks of %s: %w", rule.ID, err)
	}
	from := days.Local(submitted)
	days.Holidays = holidays.Between(rule.Calendar, from, from.AddDate(holidayReach, 0, 0))
	return &rule, days, nil
}

// startWorkflow starts the request's workflow, its id the request's id. A
// start that already happened (a retried call) finds the running workflow
// (conflict policy USE_EXISTING) instead of failing or starting a second
// run; a workflow of that id that has already ended is reported "already
// started" (reuse policy REJECT_DUPLICATE), which counts as started too. An
// error may leave the start undecided: see startRefused. manual is how a
// request staff recorded arrived (nil for the form).
func (s *Server) startWorkflow(ctx context.Context, r store.NewRequest, manual *workflows.ManualIntake) error {
	ctx, cancel := context.WithTimeout(ctx, workflowStartTimeout)
	defer cancel()
	in := workflows.Input{
		RequestID: r.ID, RequestType: r.RequestType, RequestorType: r.RequestorType,
		Country: r.Country, Region: r.Region, SubmittedAt: r.SubmittedAt, Deadline: r.Deadline,
		DeadlineRule: r.DeadlineRule, MaxExtension: r.MaxExtension,
		Periods:         workflows.PeriodsOf(s.Config),
		ImmediateAlerts: s.Config.Alerts.Mode == "immediate",
		Manual:          manual,
	}
	rule, days, err := s.clockRule(r.Country, r.Region, r.SubmittedAt)
	if err != nil {
		return err
	}
	if rule != nil && rule.ID == r.DeadlineRule {
		// The rule carries its time zone (Rule.Timezone) to the workflow.
		in.Rule, in.Holidays = rule, days.Holidays
	}
	summary, details := workflows.Summary(in, r.DeadlineRuleName)
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.WorkflowID(r.ID),
		StaticSummary:            summary,
		StaticDetails:            details,
		TaskQueue:                s.Config.Temporal.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("server: start workflow of %s: %w", r.ID, err)
	}
	return nil
}

// startRefused reports whether err, from starting a workflow, says for
// certain that no workflow was started: Temporal examined the call and
// refused it (a bad argument, an unknown namespace, no permission, no
// credentials, an unsupported method, a failed precondition such as an
// inactive namespace or an unsupported client version).
//
// Every other error leaves it open. A timeout (ours or Temporal's), an
// unavailable server or a broken connection may come after Temporal
// recorded the start; gRPC reports "connection refused" and "connection
// lost mid-call" alike as Unavailable, so even a server that is plainly down
// is no proof. Internal, Aborted, ResourceExhausted (not every source of it
// promises that nothing was written) and errors Temporal did not name are
// treated the same way: the safe answer keeps the row for the
// reconciliation, at the cost of a captcha.
func startRefused(err error) bool {
	switch serviceerror.ToStatus(err).Code() {
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.Unauthenticated,
		codes.FailedPrecondition, codes.Unimplemented:
		return true
	}
	return false
}

// submitAPI is POST /api/v1/requests.
func (s *Server) submitAPI(c *gin.Context) {
	s.submitWith(c, func(c *gin.Context) (submission, error) {
		sub, _, err := s.readSubmission(c, s.admitUpload(c, false))
		sub.ClientIP = c.ClientIP()
		return sub, err
	})
}

// submitWith answers a submission read by read, honouring its
// Idempotency-Key header (at most maxIdemKeyLen characters, else 422).
func (s *Server) submitWith(c *gin.Context, read func(*gin.Context) (submission, error)) {
	key := c.GetHeader("Idempotency-Key")
	if len(key) > maxIdemKeyLen {
		s.fail(c, dsar.Invalid(map[string]string{"idempotency_key": fmt.Sprintf("must be at most %d characters", maxIdemKeyLen)}))
		return
	}
	sub, err := read(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	status, body, err := s.submit(c.Request.Context(), sub, key)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(status, "application/json; charset=utf-8", body)
}

// FormView is what the form page shows.
type FormView struct {
	Embed          bool
	Values         formValues
	Errors         map[string]string
	Message        string
	FormKey        string
	Countries      []Country
	Regions        map[string][]Region
	RequestTypes   []dsar.RequestType
	RequestorTypes []dsar.RequestorType
	CaptchaOff     bool
	MaxUpload      string
	Labels         map[string]string // field → its name for people, for the error summary
	CountryNames   map[string]string
	// NoDocumentRules is the jurisdiction table as JSON, for the script
	// that hides the document field where the law forbids asking for it.
	NoDocumentRules string
}

// fieldLabels name the form's fields for people, in language l.
func fieldLabels(l locale.Lang) map[string]string {
	m := map[string]string{}
	for _, f := range []string{"first_name", "last_name", "email", "country", "region", "requestor_type", "request_type",
		"identity_document", "captcha", "idempotency_key"} {
		m[f] = locale.T(l, "field."+f)
	}
	m["description"] = locale.T(l, "field.description_short")
	return m
}

// embedded reports whether the page is the embeddable variant.
func embedded(c *gin.Context) bool {
	return strings.HasPrefix(c.Request.URL.Path, "/embed") || c.Query("embed") == "1"
}

func (s *Server) formView(c *gin.Context, vals formValues, errs map[string]string, msg string) FormView {
	if vals == nil {
		vals = formValues{}
	}
	l := langOf(c)
	shown := make(map[string]string, len(errs))
	for f, why := range errs {
		shown[f] = locale.Error(l, why)
	}
	return FormView{
		Embed: embedded(c), Values: vals, Errors: shown, Message: msg, FormKey: uuid.NewString(),
		Countries: countriesIn(l), Regions: regionsOf(), RequestTypes: dsar.RequestTypes, RequestorTypes: dsar.RequestorTypes,
		CaptchaOff: s.Config.Intake.CaptchaDisabled, MaxUpload: locale.Size(l, s.Config.Intake.MaxUploadBytes),
		Labels: fieldLabels(l), CountryNames: countryNamesIn(l), NoDocumentRules: s.noDocumentRulesJSON(),
	}
}

// noDocumentRulesJSON is noDocumentRules as JSON.
func (s *Server) noDocumentRulesJSON() string {
	b, err := json.Marshal(s.noDocumentRules())
	if err != nil {
		return "[]"
	}
	return string(b)
}

// formPage is GET / (and GET /embed): the request form.
func (s *Server) formPage(c *gin.Context) {
	s.pages.Render(c, http.StatusOK, "form", s.formView(c, nil, nil, ""))
}

// submitForm is the form's own POST: the same as the API, answered with the
// form again (errors beside the fields, what was typed kept) or a redirect
// to the "check your inbox" page, or for an opt-out accepted at submission
// to the "received and acted on" one.
func (s *Server) submitForm(c *gin.Context) {
	sub, vals, err := s.readSubmission(c, s.admitUpload(c, true))
	if err == nil {
		sub.ClientIP = c.ClientIP()
		key := sub.FormKey
		if len(key) > maxIdemKeyLen {
			key = ""
		}
		_, _, err = s.submit(c.Request.Context(), sub, key)
	}
	if err != nil {
		if dsar.ErrorCode(err) == dsar.EINTERNAL {
			s.Log.Error("form submission failed", "err", err)
		}
		err = unavailable(err)
		var de *dsar.Error
		if !errors.As(err, &de) {
			de = dsar.Errorf(dsar.EINTERNAL, "something went wrong on our side; please try again")
		}
		msg := locale.Error(langOf(c), de.Message)
		if de.Code == dsar.EINVALID {
			msg = locale.T(langOf(c), "form.fix")
		}
		status, ok := statusOf[de.Code]
		if !ok {
			status = http.StatusInternalServerError
		}
		s.pages.Render(c, status, "form", s.formView(c, vals, de.Fields, msg))
		return
	}
	q := url.Values{}
	if embedded(c) {
		q.Set("embed", "1")
	}
	if s.acceptedAtSubmission(sub) {
		q.Set("accepted", "1")
	}
	to := "/submitted"
	if len(q) > 0 {
		to += "?" + q.Encode()
	}
	c.Redirect(http.StatusSeeOther, to)
}

// submittedPage is the "check your inbox" page, or with accepted=1 the
// page of an opt-out accepted at submission: nothing to confirm, the mail
// only lets the requester follow the request.
func (s *Server) submittedPage(c *gin.Context) {
	s.pages.Render(c, http.StatusOK, "submitted", gin.H{"Embed": embedded(c), "Accepted": c.Query("accepted") == "1"})
}

// verifyEmail verifies the email of the request the token belongs to and
// signals its workflow, then uses the token up. ENOTFOUND for an unknown
// token, EGONE for a used or expired one or a request that has ended,
// EUNAVAILABLE when Temporal cannot be reached (the token stays valid).
func (s *Server) verifyEmail(ctx context.Context, token string) (string, error) {
	t, err := s.DB.PeekToken(ctx, token, store.TokenEmailVerification)
	if err != nil {
		return "", err
	}
	if t.RequestID == nil {
		return "", dsar.Errorf(dsar.ENOTFOUND, "unknown token")
	}
	id := *t.RequestID
	ctx = context.WithoutCancel(ctx)
	sctx, cancel := context.WithTimeout(ctx, workflowStartTimeout)
	defer cancel()
	err = s.Temporal.SignalWorkflow(sctx, workflows.WorkflowID(id), "", workflows.SignalEmailVerified,
		workflows.EmailVerified{Action: workflows.Action{At: time.Now().UTC(), RequestID: id}})
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return "", dsar.Errorf(dsar.EGONE, "this request has ended; please submit a new one")
	case err != nil:
		s.Log.Warn("signal email verified", "id", id, "err", err)
		return "", dsar.Errorf(dsar.EUNAVAILABLE, "we cannot confirm your email right now; please try the link again in a few minutes")
	}
	if _, err := s.DB.UseToken(ctx, token, store.TokenEmailVerification); err != nil {
		return "", err
	}
	// Confirmed: the request no longer counts against its email's and
	// network's caps. Were this lost, the request's status stops it
	// counting once the workflow records it.
	if err := s.DB.ReleaseIntakeHold(ctx, id); err != nil {
		s.Log.Warn("release intake hold", "id", id, "err", err)
	}
	return id, nil
}

// verifyAPI is POST /api/v1/email-verifications.
func (s *Server) verifyAPI(c *gin.Context) {
	var body struct {
		Token string `json:"token"`
	}
	if err := bindJSON(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	if body.Token == "" {
		s.fail(c, dsar.Invalid(map[string]string{"token": "is required"}))
		return
	}
	id, err := s.verifyEmail(c.Request.Context(), body.Token)
	if err != nil {
		s.fail(c, err)
		return
	}
	status := dsar.StatusAwaitingIdentity
	if r, err := s.DB.Request(c.Request.Context(), id, ""); err == nil && r.IdentityNotRequired && r.Status != dsar.StatusPendingEmailVerification {
		status = r.Status // an opt-out accepted at submission: the confirmation does not move it
	}
	c.JSON(http.StatusOK, gin.H{"request_id": id, "status": status})
}

// verifyPage is GET /verify-email: it verifies nothing (mail scanners
// prefetch links), but shows a button that posts the token.
func (s *Server) verifyPage(c *gin.Context) {
	token := c.Query("token")
	t, err := s.DB.PeekToken(c.Request.Context(), token, store.TokenEmailVerification)
	if err != nil {
		s.messagePage(c, err)
		return
	}
	s.pages.Render(c, http.StatusOK, "verify", gin.H{"Token": token, "Accepted": s.acceptedUnconfirmed(c.Request.Context(), t.RequestID)})
}

// acceptedUnconfirmed reports whether request id (nil: none) is an opt-out
// accepted at submission whose address is not yet confirmed; false when it
// cannot be read (the pages then say what they say of every request).
func (s *Server) acceptedUnconfirmed(ctx context.Context, id *string) bool {
	if id == nil {
		return false
	}
	r, err := s.DB.Request(ctx, *id, "")
	return err == nil && r.AcceptedUnconfirmed()
}

// verifyForm is the verification page's POST.
func (s *Server) verifyForm(c *gin.Context) {
	token := c.PostForm("token")
	id, err := s.verifyEmail(c.Request.Context(), token)
	if err != nil {
		s.messagePage(c, err)
		return
	}
	noIdentity := false
	if r, err := s.DB.Request(c.Request.Context(), id, ""); err == nil {
		noIdentity = r.IdentityNotRequired
	}
	s.pages.Render(c, http.StatusOK, "verified", gin.H{"Token": token, "NoIdentity": noIdentity})
}

// messagePage shows an error as a page.
func (s *Server) messagePage(c *gin.Context, err error) {
	err = unavailable(err)
	code := dsar.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok || status >= 500 && code != dsar.EUNAVAILABLE {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.Log.Error("page failed", "route", c.FullPath(), "err", err)
	}
	l := langOf(c)
	title := map[string]string{
		dsar.ENOTFOUND:    locale.T(l, "link.invalid"),
		dsar.EGONE:        locale.T(l, "link.gone"),
		dsar.EUNAVAILABLE: locale.T(l, "error.try_later"),
	}[code]
	if title == "" {
		title = locale.T(l, "error.generic")
	}
	msg := locale.Error(l, dsar.ErrorMessage(err))
	if code == dsar.ENOTFOUND {
		msg = locale.T(l, "link.check")
	}
	s.pages.Render(c, status, "intake_message", gin.H{"Title": title, "Message": msg})
}
