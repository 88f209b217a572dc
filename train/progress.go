package train

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is an epoch's progress bar, or nothing when its writer is nil.
type progress struct {
	bar    *progressbar.ProgressBar
	prefix string
	last   time.Time
}

// describeEvery limits how often the bar's description (loss, accuracy,
// img/s) is reformatted, to keep the training step allocation-free.
const describeEvery = 250 * time.Millisecond

// newProgress returns a bar for an epoch of n batches writing to w.
func newProgress(w io.Writer, n, epoch, epochs int) *progress {
	if w == nil {
		return &progress{}
	}
	prefix := fmt.Sprintf("epoch %d/%d", epoch, epochs)
	bar := progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(prefix),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)
	return &progress{bar: bar, prefix: prefix}
}

// update moves the bar to batch done with the running figures.
func (p *progress) update(done int, loss, acc, imgPerSec float64) {
	if p.bar == nil {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= describeEvery {
		p.last = now
		p.bar.Describe(fmt.Sprintf("%s loss %.4f acc %.2f%% %.0f img/s", p.prefix, loss, 100*acc, imgPerSec))
	}
	p.bar.Set(done)
}

// finish clears the bar.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
