package pipeline

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// bar is a stage's progress bar, or nothing when its writer is nil.
type bar struct{ b *progressbar.ProgressBar }

// newBar returns a bar over total items writing to w (none if w is nil).
func newBar(w io.Writer, total int, desc string) *bar {
	if w == nil {
		return &bar{}
	}
	return &bar{progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)}
}

// set moves the bar to done items; its signature fits the Progress
// callbacks of prune.EmbedOptions.
func (b *bar) set(done, _ int) {
	if b.b != nil {
		b.b.Set(done)
	}
}

// finish clears the bar.
func (b *bar) finish() {
	if b.b != nil {
		b.b.Finish()
	}
}
