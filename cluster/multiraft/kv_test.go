package multiraft

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
)

// kv is a small key-value state machine for tests: put, cas and get
// (through the log, or read locally after a ReadBarrier).
type kv struct {
	mu      sync.Mutex
	data    map[string]string
	applied []uint64 // indexes applied, in order (for ordering checks)
	log     []string // entry payloads applied, in order
	keepLog bool
}

func newKV() *kv { return &kv{data: map[string]string{}, keepLog: true} }

type kvOp struct {
	Op    byte // 'p' put, 'c' cas, 'g' get
	Key   string
	Value string
	Old   string
}

type kvResult struct {
	Value string
	OK    bool
}

func encodeOp(op kvOp) []byte {
	b := []byte{op.Op}
	for _, s := range []string{op.Key, op.Value, op.Old} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeOp(b []byte) (kvOp, error) {
	if len(b) == 0 {
		return kvOp{}, fmt.Errorf("empty op")
	}
	op := kvOp{Op: b[0]}
	b = b[1:]
	var parts [3]string
	for i := range parts {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return kvOp{}, fmt.Errorf("bad op")
		}
		parts[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	op.Key, op.Value, op.Old = parts[0], parts[1], parts[2]
	return op, nil
}

func (s *kv) Apply(ents []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ents {
		e := &ents[i]
		if s.keepLog {
			s.applied = append(s.applied, e.Index)
			s.log = append(s.log, string(e.Data))
		}
		op, err := decodeOp(e.Data)
		if err != nil {
			// Opaque payloads (benchmarks, ordering tests) are recorded only.
			continue
		}
		switch op.Op {
		case 'p':
			s.data[op.Key] = op.Value
			e.Result = kvResult{OK: true}
		case 'c':
			if s.data[op.Key] == op.Old {
				s.data[op.Key] = op.Value
				e.Result = kvResult{OK: true}
			} else {
				e.Result = kvResult{Value: s.data[op.Key]}
			}
		case 'g':
			e.Result = kvResult{Value: s.data[op.Key], OK: true}
		}
	}
	return nil
}

func (s *kv) get(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[key]
}

type kvSnapshot struct {
	Data    map[string]string
	Applied []uint64
	Log     []string
}

func (s *kv) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(kvSnapshot{Data: s.data, Applied: s.applied, Log: s.log})
}

func (s *kv) Restore(b []byte) error {
	var snap kvSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.Data == nil {
		snap.Data = map[string]string{}
	}
	s.data, s.applied, s.log = snap.Data, snap.Applied, snap.Log
	return nil
}

func (s *kv) appliedLog() ([]uint64, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.applied...), append([]string(nil), s.log...)
}
