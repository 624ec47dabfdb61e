package bench

// Progress shows a run's progress live, one phase at a time ("publish",
// "receive", "fill stream", ...). Start opens a phase (total <= 0 when the
// end is not known in messages, e.g. a duration-bounded run), Update gives
// the messages done so far and Finish closes the phase. A run calls these
// from one goroutine, so implementations need no locking.
type Progress interface {
	Start(phase string, total int64)
	Update(done int64)
	Finish()
}

// NopProgress shows nothing.
type NopProgress struct{}

func (NopProgress) Start(string, int64) {}
func (NopProgress) Update(int64)        {}
func (NopProgress) Finish()             {}
