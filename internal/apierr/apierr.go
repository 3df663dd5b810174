// Package apierr is Meilisearch's error shape ({message, code, type,
// link} with an HTTP status), shared by the Cluster and its proxy so that
// both word and render errors one way.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/meilisearch/meilisearch-go"
)

// Error is an error in Meilisearch's shape with the HTTP status it is
// answered with. It reads as a *meilisearch.Error through errors.As, which
// is how renderers that know no other error type see it.
type Error struct {
	Status  int
	Code    string
	Message string
	Type    string // invalid_request, auth, internal, system
	Link    string
}

// New builds an Error; its type and link follow Meilisearch's conventions
// (TypeOf, Link).
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...), Type: TypeOf(status), Link: Link(code)}
}

// Error returns "message (code)".
func (e *Error) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// As lets errors.As(err, &meiliErr) with meiliErr *meilisearch.Error
// succeed, filled as Meili fills it.
func (e *Error) As(target any) bool {
	t, ok := target.(**meilisearch.Error)
	if ok {
		*t = e.Meili()
	}
	return ok
}

// Meili returns e as a *meilisearch.Error, as code written against
// meilisearch-go inspects errors: e's code, message, type, link and
// status.
func (e *Error) Meili() *meilisearch.Error {
	me := &meilisearch.Error{
		APIError: meilisearch.APIErrorDetails{
			Message: e.Message, Code: meilisearch.APIErrCode(e.Code), Type: e.Type, Link: e.Link,
		},
		StatusCode: e.Status,
		Function:   "miroir",
	}
	return me.WithErrCode(meilisearch.APIError)
}

// TypeOf is the error type Meilisearch gives a status: internal for 5xx,
// auth for 401 and 403, else invalid_request.
func TypeOf(status int) string {
	switch {
	case status >= 500:
		return "internal"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return "auth"
	}
	return "invalid_request"
}

// Link is the documentation link of an error code.
func Link(code string) string { return "https://docs.meilisearch.com/errors#" + code }

// Message returns the message of err in Meilisearch's shape (err's own
// text when it has none).
func Message(err error) string {
	var me *meilisearch.Error
	if errors.As(err, &me) && me.APIError.Code != "" {
		return me.APIError.Message
	}
	return err.Error()
}

// Snake turns a camelCase name into snake_case, as Meilisearch's error
// codes spell parameter names (invalid_task_after_enqueued_at).
func Snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
