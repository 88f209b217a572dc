package prune

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/bulwark-ml/bulwark/attack"
	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/data"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
	"github.com/bulwark-ml/bulwark/train"
)

// Files of a recording (Recorder.Dir). Each probs file is a float32 K×n
// array: row t holds, after epoch t, the true-class probability of each
// recorded sample, in the order of RecordIndicesFile (int64, n).
const (
	RecordIndicesFile = "record_indices.npy"
	ProbsCleanFile    = "probs_clean.npy" // clean inputs, eval mode
	// ProbsAdvFile is recorded on the inputs of RecorderOptions.Attack
	// (the seed paper's recording: the training attack's own settings),
	// in eval mode.
	ProbsAdvFile = "probs_adv.npy"
	// ProbsTrainFile is recorded from the training forward pass itself
	// (RecordTrain): the loss's logits (adversarial ones for PGD-AT and
	// FGSM-RS, clean ones for TRADES) in training mode, with
	// augmentation; NaN marks a sample the epoch did not visit.
	ProbsTrainFile = "probs_train.npy"
	// EL2NCleanFile and EL2NTrainFile hold, in the same K×n layout, each
	// sample's EL2N error ‖softmax(z) − onehot(y)‖₂ from the clean pass
	// and from the training pass (Paul et al. 2021): the one score that
	// needs the whole probability vector.
	EL2NCleanFile = "el2n_clean.npy"
	EL2NTrainFile = "el2n_train.npy"
)

// RecordKind is what a Recorder records.
type RecordKind int

const (
	// RecordClean records an eval-mode pass over the clean inputs after
	// every epoch: probabilities and EL2N.
	RecordClean RecordKind = iota
	// RecordAdv records the clean pass and a pass over the inputs of
	// RecorderOptions.Attack.
	RecordAdv
	// RecordTrain records the training pass itself (Recorder.Observe, at
	// no extra cost): probabilities and EL2N.
	RecordTrain
)

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	// Data is the index space the samples are named in: what the
	// training batches index (a training set, or data.Concat of a real
	// set and a synthetic pool mixed into its batches).
	Data    data.Dataset
	Indices []int // the samples recorded; nil records all
	Kind    RecordKind
	// Attack returns the attack of epoch e's adversarial pass (RecordAdv),
	// reseeded per epoch so that a resumed run repeats it.
	Attack    func(e int) attack.Attack
	BatchSize int // of the eval passes; 0 means 256
	Workers   int // decoding goroutines; 0 is the data package's default
	// Dir, if set, is where the arrays are written after every epoch
	// (atomically) and, in a resumed run, read back from: the files are
	// the recording's state. Empty keeps everything in memory.
	Dir string
}

// Recorder records every sample's true-class probability after each
// epoch of a training run, the trajectories the scores are computed from.
// It plugs into the trainer's hooks (Attach): EpochEnd after every epoch,
// with the model, and Observe after every training step for RecordTrain.
// Its results are in memory (Array) and, with Dir, in files.
type Recorder struct {
	o     RecorderOptions
	idx   []int
	files []string     // the arrays, in their order
	rows  [][]float32  // per array, the K×n values so far
	col   map[int]int  // dataset index → position (RecordTrain)
	row   [2][]float32 // RecordTrain: this epoch's probability and EL2N rows
	began bool         // rows hold the epochs before the current one

	tp  *autograd.Tape
	x   *autograd.Var
	cur [3][]float32 // this epoch's rows, in the order of files
}

// NewRecorder checks o and prepares a recording.
func NewRecorder(o RecorderOptions) (*Recorder, error) {
	if o.Data == nil {
		return nil, fmt.Errorf("prune.NewRecorder: no data")
	}
	if o.Kind == RecordAdv && o.Attack == nil {
		return nil, fmt.Errorf("prune.NewRecorder: RecordAdv needs an Attack")
	}
	r := &Recorder{o: o, idx: o.Indices, tp: autograd.NewTape(), x: autograd.Leaf(nil, false)}
	n := o.Data.Len()
	if r.idx == nil {
		r.idx = make([]int, n)
		for i := range r.idx {
			r.idx[i] = i
		}
	}
	for j, i := range r.idx {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("prune.NewRecorder: index %d (entry %d) is outside the %d samples", i, j, n)
		}
	}
	switch o.Kind {
	case RecordTrain:
		r.files = []string{ProbsTrainFile, EL2NTrainFile}
		r.col = make(map[int]int, len(r.idx))
		for j, i := range r.idx {
			r.col[i] = j
		}
		for k := range r.row {
			r.row[k] = nanRow(make([]float32, len(r.idx)))
		}
	case RecordAdv:
		r.files = []string{ProbsCleanFile, EL2NCleanFile, ProbsAdvFile}
	default:
		r.files = []string{ProbsCleanFile, EL2NCleanFile}
	}
	r.rows = make([][]float32, len(r.files))
	return r, nil
}

// Files lists the arrays the recorder writes, in the order of Array.
func (r *Recorder) Files() []string { return r.files }

// Array returns the K×n values recorded so far in the array of that file
// name (one of Files), or false if the recorder does not make it.
func (r *Recorder) Array(name string) (Trajectories, bool) {
	for f, file := range r.files {
		if file == name {
			n := len(r.idx)
			k := 0
			if n > 0 {
				k = len(r.rows[f]) / n
			}
			return Trajectories{K: k, N: n, P: r.rows[f]}, true
		}
	}
	return Trajectories{}, false
}

// Indices returns the recorded samples, in the arrays' column order.
func (r *Recorder) Indices() []int { return r.idx }

// Attach plugs r into a training run's hooks, after any already there:
// Observe on every step (RecordTrain) and EpochEnd after every epoch. A
// resumed run (train.Options.Resume) continues the recording from Dir.
func (r *Recorder) Attach(opts *train.Options) {
	onBatch, onEpoch := opts.OnBatch, opts.OnEpochEnd
	if r.o.Kind == RecordTrain {
		opts.OnBatch = func(s *train.Step) error {
			r.Observe(s.Indices, s.Labels, s.Logits.Value)
			if onBatch != nil {
				return onBatch(s)
			}
			return nil
		}
	}
	opts.OnEpochEnd = func(e int, m nn.Module) error {
		if err := r.EpochEnd(e, m); err != nil {
			return err
		}
		if onEpoch != nil {
			return onEpoch(e, m)
		}
		return nil
	}
}

// RecordData returns the index space of a run's Step.Indices: the
// training set, or the training set followed by the synthetic pool mixed
// into its batches (nil if none).
func RecordData(train, synthetic data.Dataset) (data.Dataset, error) {
	if synthetic == nil {
		return train, nil
	}
	return data.Concat(train, synthetic)
}

// nanRow fills row with NaN and returns it.
func nanRow(row []float32) []float32 {
	for j := range row {
		row[j] = float32(math.NaN())
	}
	return row
}

// Observe records a training step's logits [B, classes] of the samples
// indices (labels y): the RecordTrain hook, called after each step's
// forward pass. Other kinds ignore it.
func (r *Recorder) Observe(indices, y []int, logits *tensor.Tensor) {
	if r.col == nil {
		return
	}
	c := logits.Dim(1)
	for i, k := range indices {
		if j, ok := r.col[k]; ok {
			r.row[0][j], r.row[1][j] = TrueProbEL2N(logits.Data()[i*c:(i+1)*c], y[i])
		}
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

// EpochEnd records epoch e (0-based) of model, leaving it in evaluation
// mode, and with Dir rewrites the arrays. At the first epoch it sees,
// with e > 0 (a resumed run), it first reads back epochs 0..e−1.
func (r *Recorder) EpochEnd(e int, model nn.Module) error {
	if err := r.begin(e); err != nil {
		return err
	}
	if r.col != nil {
		for k := range r.row {
			r.rows[k] = append(r.rows[k], r.row[k]...)
			nanRow(r.row[k])
		}
	} else {
		if err := r.pass(e, model); err != nil {
			return err
		}
		for f := range r.files {
			r.rows[f] = append(r.rows[f], r.cur[f]...)
		}
	}
	if r.o.Dir == "" {
		return nil
	}
	n := len(r.idx)
	for f, name := range r.files {
		if err := data.WriteNpy(r.path(name), []int{e + 1, n}, r.rows[f]); err != nil {
			return fmt.Errorf("recording: %w", err)
		}
	}
	return nil
}

func (r *Recorder) path(name string) string { return filepath.Join(r.o.Dir, name) }

// begin, at the first epoch a recorder sees, writes the index list or,
// in a resumed run (e > 0), reads back the rows of epochs 0..e−1.
func (r *Recorder) begin(e int) error {
	if r.began {
		return nil
	}
	r.began = true
	n := len(r.idx)
	if r.o.Dir == "" {
		if e > 0 {
			return fmt.Errorf("recording: the run resumes at epoch %d, but an in-memory recording has no earlier epochs", e+1)
		}
		return nil
	}
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
		return fmt.Errorf("resuming the recording: %w", err)
	}
	if len(shape) != 1 || len(old) != n || !sameIndices(old, r.idx) {
		return fmt.Errorf("resuming the recording: %s does not list the samples this run records", r.path(RecordIndicesFile))
	}
	for f, name := range r.files {
		v, shape, err := data.ReadNpy[float32](r.path(name))
		if err != nil {
			return fmt.Errorf("resuming the recording: %w", err)
		}
		// A run killed after writing a row but before its checkpoint
		// left rows of epochs it redoes: drop them.
		if len(shape) != 2 || shape[1] != n || shape[0] < e {
			return fmt.Errorf("resuming the recording: %s has shape %v, want at least %d×%d (the epochs completed × samples)", r.path(name), shape, e, n)
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

// pass runs model in eval mode over the recorded samples, without
// augmentation, and fills cur with their true-class probabilities (and
// EL2N) on the clean inputs and, for RecordAdv, on epoch e's attack's
// inputs.
func (r *Recorder) pass(e int, model nn.Module) error {
	n := len(r.idx)
	for f := range r.files {
		r.cur[f] = make([]float32, 0, n)
	}
	bs := r.o.BatchSize
	if bs == 0 {
		bs = 256
	}
	b, err := data.NewBatcher(r.o.Data, r.idx, data.Config{BatchSize: bs, Workers: r.o.Workers, Prefetch: true})
	if err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	defer b.Close()
	var at attack.Attack
	if r.o.Kind == RecordAdv {
		at = r.o.Attack(e)
	}
	model.SetTrain(false)
	for b.Next() {
		batch := b.Batch()
		r.cur[0], r.cur[1] = r.probs(model, r.cur[0], r.cur[1], batch.X, batch.Labels)
		if at != nil {
			xa, err := at.Perturb(model, batch.X, batch.Labels)
			if err != nil {
				return fmt.Errorf("recording: %w", err)
			}
			model.SetTrain(false)
			r.cur[2], _ = r.probs(model, r.cur[2], nil, xa, batch.Labels)
		}
	}
	if err := b.Err(); err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	return nil
}

// probs appends to dst the true-class probabilities of model (in its
// current mode) on x and, if el2n is not nil, to el2n their EL2N errors.
func (r *Recorder) probs(model nn.Module, dst, el2n []float32, x *tensor.Tensor, y []int) ([]float32, []float32) {
	r.tp.Reset()
	restore := r.tp.NoGrad()
	r.x.Value = x
	z := model.Forward(r.tp, r.x).Value
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
