package train

import (
	"fmt"
	"io"
	"time"

	"github.com/bulwark-ml/bulwark/internal/progress"
)

// epochBar is an epoch's progress bar, or nothing when its writer is nil.
type epochBar struct {
	*progress.Bar
	prefix string
	last   time.Time
}

// describeEvery limits how often the bar's description (loss, accuracy,
// img/s) is reformatted, to keep the training step allocation-free.
const describeEvery = 250 * time.Millisecond

// newProgress returns a bar for an epoch of n batches writing to w.
func newProgress(w io.Writer, n, epoch, epochs int) *epochBar {
	prefix := fmt.Sprintf("epoch %d/%d", epoch, epochs)
	return &epochBar{Bar: progress.New(w, n, prefix), prefix: prefix}
}

// update moves the bar to batch done with the running figures.
func (p *epochBar) update(done int, loss, acc, imgPerSec float64) {
	if !p.Active() {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= describeEvery {
		p.last = now
		p.Describe(fmt.Sprintf("%s loss %.4f acc %.2f%% %.0f img/s", p.prefix, loss, 100*acc, imgPerSec))
	}
	p.Set(done, 0)
}

// finish clears the bar.
func (p *epochBar) finish() { p.Finish() }
