package jetstore

import (
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
)

// Counter streams (allow_msg_counter): every message on a subject adds
// its increment (PublishOptions.Incr, an integer of any size) to the
// subject's total, and is stored with the new total as its data:
// {"val":"<decimal>"}. The total is read back from the subject's last
// message, so purges, deletes and limits apply to counters like to any
// message.

// Counter errors.
var (
	ErrIncrDisabled  = errors.New("message counters is disabled")
	ErrIncrMissing   = errors.New("message counter increment is missing")
	ErrIncrPayload   = errors.New("message counter has payload")
	ErrIncrInvalid   = errors.New("message counter increment is invalid")
	ErrCounterBroken = errors.New("message counter is broken")
)

// counterValue is a counter message's data.
type counterValue struct {
	Value string `json:"val"`
}

// checkIncr refuses an increment the stream cannot take, before any other
// check of the publisher's options.
func (st *Stream) checkIncr(m *InMsg) error {
	o := m.Options
	switch {
	case o.IncrInvalid:
		return ErrIncrInvalid
	case !o.HasIncr:
		return nil
	case !st.cfg.AllowMsgCounter:
		return ErrIncrDisabled
	case len(m.Data) > 0:
		return ErrIncrPayload
	case o.Rollup != RollupNone, o.HasExpectedStream, o.HasExpectedLastMsgID,
		o.ExpectedLastSubjectSeq.Set, o.ExpectedLastSeq.Set, o.ExpectedLastSubjectSeqSubject != "":
		return ErrIncrInvalid
	}
	return nil
}

// countLocked adds the message's increment to its subject's total, makes
// the total the message's data and returns it.
func (st *Stream) countLocked(m *InMsg) (string, error) {
	if m.Options == nil || !m.Options.HasIncr {
		return "", ErrIncrMissing
	}
	var total big.Int
	if seq := st.lastMatchingLocked(m.Subject); seq != 0 {
		prev, err := st.readLocked(seq)
		if err != nil {
			return "", ErrCounterBroken
		}
		var v counterValue
		if json.Unmarshal(prev.Data, &v) != nil {
			return "", ErrCounterBroken
		}
		if _, ok := total.SetString(v.Value, 10); !ok {
			return "", ErrCounterBroken
		}
	}
	total.Add(&total, m.Options.Incr)
	s := total.String()
	m.Data = append(strconv.AppendQuote([]byte(`{"val":`), s), '}')
	return s, nil
}

// validCounter reports whether data holds a counter total.
func validCounter(data []byte) bool {
	var v counterValue
	var n big.Int
	if json.Unmarshal(data, &v) != nil {
		return false
	}
	_, ok := n.SetString(v.Value, 10)
	return ok
}
