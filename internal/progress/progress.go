// Package progress draws the progress bars of long stages (training
// epochs, embedding, evaluation) on a terminal. A Bar made with a nil
// writer does nothing, so callers need no checks.
package progress

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Bar is a progress bar over a known number of items.
type Bar struct{ b *progressbar.ProgressBar }

// New returns a bar over total items, labelled desc, writing to w; with
// a nil w it draws nothing.
func New(w io.Writer, total int, desc string) *Bar {
	if w == nil {
		return &Bar{}
	}
	return &Bar{progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)}
}

// Active reports whether the bar draws anything.
func (b *Bar) Active() bool { return b.b != nil }

// Set moves the bar to done items; its signature fits progress callbacks
// that also pass the total.
func (b *Bar) Set(done, _ int) {
	if b.b != nil {
		b.b.Set(done)
	}
}

// Describe replaces the bar's label.
func (b *Bar) Describe(desc string) {
	if b.b != nil {
		b.b.Describe(desc)
	}
}

// Finish clears the bar.
func (b *Bar) Finish() {
	if b.b != nil {
		b.b.Finish()
		b.b = nil
	}
}
