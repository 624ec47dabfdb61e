package jsapi

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/midgemq/midge/jetstore"
)

// Store errors reach clients as table entries whatever context wraps them;
// a failure the table does not know keeps its text under the generic code.
func TestStoreErrorsMapOntoTheTable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want apiError
	}{
		{fmt.Errorf("stream %q: %w", "S", jetstore.ErrStreamNotFound), apiError{404, 10059, "stream not found"}},
		{&jetstore.WrongLastSeqError{Last: 7}, apiError{400, 10071, "wrong last sequence: 7"}},
		{fmt.Errorf("publish: %w", &jetstore.WrongLastMsgIDError{Last: "a"}), apiError{400, 10070, "wrong last msg ID: a"}},
		{&jetstore.InvalidRollupError{Value: "x"}, apiError{400, 10111, "rollup value invalid: x"}},
		{&jetstore.StreamConfigError{Reason: "max age needs to be >= 100ms"}, apiError{500, 10052, "max age needs to be >= 100ms"}},
		{&jetstore.ConsumerConfigError{Reason: "deliver policy can not be updated"}, apiError{400, 10012, "deliver policy can not be updated"}},
		{&jetstore.StorageError{Err: fs.ErrPermission}, apiError{503, 10077, "storage failure: permission denied"}},
		{jsErrFilterMismatch, *jsErrFilterMismatch},
		{errors.New("something else"), apiError{500, 10049, "something else"}},
	} {
		if got := toAPIError(tc.err); *got != tc.want {
			t.Errorf("%v: got %+v, want %+v", tc.err, *got, tc.want)
		}
	}
	for sentinel, entry := range storeErrors {
		if got := toAPIError(fmt.Errorf("context: %w", sentinel)); got != entry {
			t.Errorf("%v maps to %+v, want %+v", sentinel, got, entry)
		}
	}
}
