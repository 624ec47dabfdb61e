package jsapi

import (
	"errors"
	"regexp"
	"syscall"
)

// What clients learn of a server-side failure. A storage failure's text
// names files under the store directory; clients get the system's reason
// only (the store logs the whole error with its paths).

// absPath matches what looks like an absolute path in an error text.
var absPath = regexp.MustCompile(`/[^\s/:;,"']+(/[^\s:;,"']+)+`)

// clientReason is err's text without server paths: the error number's
// text when the failure has one ("no space left on device"), else the
// text with every absolute path replaced.
func clientReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return absPath.ReplaceAllString(err.Error(), "<path>")
}
