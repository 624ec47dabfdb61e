package jsapi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/midgemq/midge/jetstore"
)

// TestStorageErrorsHideServerPaths: the texts clients get for storage
// failures carry the reason, never a path of the server (before the fix
// they carried the block file's full path).
func TestStorageErrorsHideServerPaths(t *testing.T) {
	const dir = "/var/lib/midge/jetstream/$G/streams/S/blocks/00000001.blk"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&jetstore.StorageError{Err: &fs.PathError{Op: "write", Path: dir, Err: syscall.ENOSPC}}, "storage failure: no space left on device"},
		{&jetstore.StorageError{Err: fmt.Errorf("opening %s: %w", dir, &fs.PathError{Op: "open", Path: dir, Err: syscall.EIO})}, "storage failure: input/output error"},
		{&jetstore.StorageError{Err: fmt.Errorf("reading block %s: %w", dir, io.ErrUnexpectedEOF)}, "storage failure: reading block <path>: unexpected EOF"},
		{fmt.Errorf("creating %s: %w", dir, errors.New("odd")), "creating <path>: odd"},
	} {
		got := toAPIError(tc.err)
		if got.Description != tc.want || strings.Contains(got.Description, "/var/") {
			t.Errorf("%v: description %q, want %q", tc.err, got.Description, tc.want)
		}
	}
}
