package train

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Files of the per-epoch recording (package doc) in the run directory.
// Each probs file is a float32 K×n array: row t holds, after epoch t, the
// true-class probability of each recorded sample, in the order of
// RecordIndicesFile (int64, n).
const (
	RecordIndicesFile = "record_indices.npy"
	ProbsCleanFile    = "probs_clean.npy" // clean inputs, eval mode
	// ProbsAdvFile is recorded on PGD inputs at the training attack's ε,
	// steps and step size (the seed paper's recording; PGD-10 at ε/4 when
	// the run is not adversarial), in eval mode.
	ProbsAdvFile = "probs_adv.npy"
	// ProbsTrainFile is recorded from the training forward pass itself
	// (Config.RecordTrain): the loss's logits (adversarial ones for
	// PGD-AT and FGSM-RS, clean ones for TRADES) in training mode, with
	// augmentation; NaN marks a sample the epoch did not visit.
	ProbsTrainFile = "probs_train.npy"
	// EL2NCleanFile and EL2NTrainFile hold, in the same K×n layout, each
	// sample's EL2N error ‖softmax(z) − onehot(y)‖₂ from the clean pass
	// and from the training pass (Paul et al. 2021): the one score that needs
	// the whole probability vector.
	EL2NCleanFile = "el2n_clean.npy"
	EL2NTrainFile = "el2n_train.npy"
)

// recorder records per-sample true-class probabilities after every epoch
// and rewrites the K×n arrays atomically. The arrays in the run directory
// are its state: a resumed run reads them back and continues them.
type recorder struct {
	t     *Trainer
	ds    data.Dataset // the indices' space: the training set, or concat(real, pool)
	idx   []int
	files []string     // the probs files written
	rows  [][]float32  // per file, the K×n values so far
	col   map[int]int  // dataset index → position (RecordTrain)
	row   [2][]float32 // RecordTrain: this epoch's probability and EL2N rows
	began bool         // rows hold the epochs before the current one

	tp  *autograd.Tape
	x   *autograd.Var
	cur [3][]float32 // this epoch's rows, in the order of files
}

// newRecorder reads the index list and prepares the recording of t.
func newRecorder(t *Trainer) (*recorder, error) {
	cfg := &t.cfg
	r := &recorder{t: t, ds: t.train, tp: autograd.NewTape(), x: autograd.Leaf(nil, false)}
	if mb, ok := t.batcher.(*mixBatcher); ok {
		ds, err := data.Concat(t.train, mb.pool)
		if err != nil {
			return nil, err
		}
		r.ds = ds
	}
	n := r.ds.Len()
	if cfg.RecordAll {
		r.idx = make([]int, n)
		for i := range r.idx {
			r.idx[i] = i
		}
	} else {
		idx, err := data.ReadIndices(cfg.Record, n)
		if err != nil {
			return nil, WrapField("Record", err, "")
		}
		r.idx = idx
	}
	switch {
	case cfg.RecordTrain:
		r.files = []string{ProbsTrainFile, EL2NTrainFile}
		r.col = make(map[int]int, len(r.idx))
		for j, i := range r.idx {
			r.col[i] = j
		}
		for k := range r.row {
			r.row[k] = nanRow(make([]float32, len(r.idx)))
		}
	case cfg.RecordAdv:
		r.files = []string{ProbsCleanFile, EL2NCleanFile, ProbsAdvFile}
	default:
		r.files = []string{ProbsCleanFile, EL2NCleanFile}
	}
	r.rows = make([][]float32, len(r.files))
	return r, nil
}

// nanRow fills row with NaN and returns it.
func nanRow(row []float32) []float32 {
	for j := range row {
		row[j] = float32(math.NaN())
	}
	return row
}

// wrap returns loss with the training-pass recording added.
func (r *recorder) wrap(loss LossFunc) LossFunc {
	return func(s *Step) (*autograd.Var, *autograd.Var, error) {
		l, logits, err := loss(s)
		if err != nil {
			return nil, nil, err
		}
		z := logits.Value
		c := z.Dim(1)
		for i, k := range s.Indices {
			if j, ok := r.col[k]; ok {
				r.row[0][j], r.row[1][j] = TrueProbEL2N(z.Data()[i*c:(i+1)*c], s.Labels[i])
			}
		}
		return l, logits, nil
	}
}

// TrueProbEL2N returns softmax(z)[y] and the EL2N error
// ‖softmax(z) − onehot(y)‖₂.
func TrueProbEL2N(z []float32, y int) (p, el2n float32) {
	lse := tensor.LogSumExpRow(z)
	var ss float64
	for c, v := range z {
		q := math.Exp(float64(v) - lse)
		if c == y {
			p = float32(q)
			q--
		}
		ss += q * q
	}
	return p, float32(math.Sqrt(ss))
}

// epochEnd records epoch e and rewrites the arrays.
func (r *recorder) epochEnd(e int) error {
	if err := r.begin(e); err != nil {
		return err
	}
	if r.col != nil {
		for k := range r.row {
			r.rows[k] = append(r.rows[k], r.row[k]...)
			nanRow(r.row[k])
		}
	} else {
		if err := r.pass(e); err != nil {
			return err
		}
		for f := range r.files {
			r.rows[f] = append(r.rows[f], r.cur[f]...)
		}
	}
	n := len(r.idx)
	for f, name := range r.files {
		if err := data.WriteNpy(r.path(name), []int{e + 1, n}, r.rows[f]); err != nil {
			return fmt.Errorf("recording: %w", err)
		}
	}
	return nil
}

func (r *recorder) path(name string) string { return filepath.Join(r.t.cfg.Out, name) }

// begin, at the first epoch a recorder sees, writes the index list or,
// in a resumed run (e > 0), reads back the rows of epochs 0..e−1.
func (r *recorder) begin(e int) error {
	if r.began {
		return nil
	}
	r.began = true
	n := len(r.idx)
	if e == 0 {
		idx := make([]int64, n)
		for j, i := range r.idx {
			idx[j] = int64(i)
		}
		if err := data.WriteNpy(r.path(RecordIndicesFile), []int{n}, idx); err != nil {
			return fmt.Errorf("recording: %w", err)
		}
		return nil
	}
	old, shape, err := data.ReadNpy[int64](r.path(RecordIndicesFile))
	if err != nil {
		return WrapField("Resume", err, "recording")
	}
	if len(shape) != 1 || len(old) != n || !sameIndices(old, r.idx) {
		return FieldErrorf("Resume", "%s does not list the samples this run records", r.path(RecordIndicesFile))
	}
	for f, name := range r.files {
		v, shape, err := data.ReadNpy[float32](r.path(name))
		if err != nil {
			return WrapField("Resume", err, "recording")
		}
		// A run killed after writing a row but before its checkpoint
		// left rows of epochs it redoes: drop them.
		if len(shape) != 2 || shape[1] != n || shape[0] < e {
			return FieldErrorf("Resume", "%s has shape %v, want at least %d×%d (the epochs completed × samples)", r.path(name), shape, e, n)
		}
		r.rows[f] = v[:e*n]
	}
	return nil
}

func sameIndices(a []int64, b []int) bool {
	for j, v := range a {
		if v != int64(b[j]) {
			return false
		}
	}
	return true
}

// pass runs the model in eval mode over the recorded samples, without
// augmentation, and fills cur with their true-class probabilities on
// the clean inputs and, with RecordAdv, on PGD inputs at the training
// attack's steps and step size (random start seeded by the run's seed
// and e).
func (r *recorder) pass(e int) error {
	t := r.t
	cfg := &t.cfg
	n := len(r.idx)
	for f := range r.files {
		r.cur[f] = make([]float32, 0, n)
	}
	b, err := data.NewBatcher(r.ds, r.idx, data.Config{BatchSize: cfg.BatchSize, Workers: t.opts.Workers, Prefetch: true})
	if err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	defer b.Close()
	var pgd *attack.PGD
	if cfg.RecordAdv {
		norm := cfg.Norm
		pgd = &attack.PGD{Norm: norm, Eps: float32(cfg.Eps), Alpha: cfg.stepSize(), Steps: cfg.steps(),
			Seed: epochSeed(cfg.Seed, 3, e)}
	}
	t.model.SetTrain(false)
	for b.Next() {
		batch := b.Batch()
		r.cur[0], r.cur[1] = r.probs(r.cur[0], r.cur[1], batch.X, batch.Labels)
		if pgd != nil {
			xa, err := pgd.Perturb(t.model, batch.X, batch.Labels)
			if err != nil {
				return fmt.Errorf("recording: %w", err)
			}
			r.cur[2], _ = r.probs(r.cur[2], nil, xa, batch.Labels)
		}
	}
	if err := b.Err(); err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	return nil
}

// probs appends to dst the true-class probabilities of the model (in its
// current mode) on x and, if el2n is not nil, to el2n their EL2N errors.
func (r *recorder) probs(dst, el2n []float32, x *tensor.Tensor, y []int) ([]float32, []float32) {
	r.tp.Reset()
	restore := r.tp.NoGrad()
	r.x.Value = x
	z := r.t.model.Forward(r.tp, r.x).Value
	restore()
	c := z.Dim(1)
	for i, k := range y {
		p, e := TrueProbEL2N(z.Data()[i*c:(i+1)*c], k)
		dst = append(dst, p)
		if el2n != nil {
			el2n = append(el2n, e)
		}
	}
	return dst, el2n
}
