package attack

import (
	"fmt"
	"math"
	"strings"

	"github.com/bulwark-ml/bulwark/internal/freelist"

	"github.com/bulwark-ml/bulwark/autograd"
	"github.com/bulwark-ml/bulwark/kernels"
	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Attack turns inputs into adversarial inputs against a model.
type Attack interface {
	// Name describes the attack and its main settings, for reports.
	Name() string
	// Perturb returns adversarial versions of x [N, C, H, W] (values in
	// [0,1]) for the labels y against m. The result is owned by the
	// attack and valid until its next Perturb; x is not modified. Bad
	// settings, labels or input values are errors.
	Perturb(m nn.Module, x *tensor.Tensor, y []int) (*tensor.Tensor, error)
}

// Norm is the norm of the threat model's ε-ball.
type Norm int

const (
	LInf Norm = iota // ‖x' − x‖∞ ≤ ε: every pixel moves by at most ε
	L2               // ‖x' − x‖₂ ≤ ε for each sample
)

// String returns "Linf" or "L2".
func (n Norm) String() string {
	switch n {
	case LInf:
		return "Linf"
	case L2:
		return "L2"
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// MarshalText encodes n as "linf" or "l2", as settings files spell it.
func (n Norm) MarshalText() ([]byte, error) {
	switch n {
	case LInf:
		return []byte("linf"), nil
	case L2:
		return []byte("l2"), nil
	}
	return nil, fmt.Errorf("unknown norm %d", int(n))
}

// UnmarshalText decodes ParseNorm's spellings; empty is LInf.
func (n *Norm) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*n = LInf
		return nil
	}
	v, err := ParseNorm(string(b))
	if err == nil {
		*n = v
	}
	return err
}

// Set parses a command-line value (flag.Value).
func (n *Norm) Set(s string) error { return n.UnmarshalText([]byte(s)) }

// ParseNorm parses "linf" (or "inf") and "l2", ignoring case.
func ParseNorm(s string) (Norm, error) {
	switch strings.ToLower(s) {
	case "linf", "inf", "l∞":
		return LInf, nil
	case "l2":
		return L2, nil
	}
	return 0, fmt.Errorf("unknown norm %q, want linf or l2", s)
}

// BNMode is the mode an attack runs the model in, which decides what
// BatchNorm layers do.
type BNMode int

const (
	// BNEval runs the model in evaluation mode (BatchNorm uses its
	// running statistics), as every evaluation attack must. The default.
	BNEval BNMode = iota
	// BNTrain runs it in training mode: BatchNorm normalizes with batch
	// statistics and updates its running statistics at every forward
	// pass of the attack, as PyTorch's PGD-AT recipes do.
	BNTrain
	// BNKeep leaves the model's mode as it is.
	BNKeep
)

// bnNames are BNMode's spellings.
var bnNames = [...]string{BNEval: "eval", BNTrain: "train", BNKeep: "keep"}

// String returns "eval", "train" or "keep".
func (m BNMode) String() string {
	if m >= 0 && int(m) < len(bnNames) {
		return bnNames[m]
	}
	return fmt.Sprintf("BNMode(%d)", int(m))
}

// MarshalText encodes m as String does.
func (m BNMode) MarshalText() ([]byte, error) {
	if m < 0 || int(m) >= len(bnNames) {
		return nil, fmt.Errorf("unknown BN mode %d", int(m))
	}
	return []byte(bnNames[m]), nil
}

// UnmarshalText decodes "eval", "train" or "keep"; empty is BNEval.
func (m *BNMode) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = BNEval
		return nil
	}
	for v, name := range bnNames {
		if string(b) == name {
			*m = BNMode(v)
			return nil
		}
	}
	return fmt.Errorf("unknown BN mode %q, want eval or train", b)
}

// Set parses a command-line value (flag.Value).
func (m *BNMode) Set(s string) error { return m.UnmarshalText([]byte(s)) }

// Init is how an attack picks its starting point.
type Init int

const (
	// InitUniform starts at random: in L∞ at x + U(−ε, ε) per pixel; in
	// L2 at x + r·d with d a normalized N(0, I) direction and r ~ U(0, ε);
	// then projects. The default.
	InitUniform Init = iota
	// InitNone starts at x.
	InitNone
	// InitNormal starts at x + σ·N(0, I), projected (TRADES starts with
	// σ = 0.001).
	InitNormal
)

// Targeter picks the target class of each sample for a targeted attack:
// it writes into dst[i] a class in [0, classes) for the sample labelled
// y[i] (normally not y[i]).
type Targeter func(dst, y []int, classes int)

// NextClass targets class (y+1) mod classes.
func NextClass(dst, y []int, classes int) {
	for i, c := range y {
		dst[i] = (c + 1) % classes
	}
}

// RandomTarget returns a Targeter that draws each target uniformly from the
// classes other than the label, from its own generator seeded by seed.
func RandomTarget(seed uint64) Targeter {
	rng := tensor.NewRNG(seed)
	return func(dst, y []int, classes int) {
		for i, c := range y {
			if classes < 2 {
				dst[i] = c
				continue
			}
			t := rng.Intn(classes - 1)
			if t >= c {
				t++
			}
			dst[i] = t
		}
	}
}

// Objective is a custom per-sample objective for PGD to maximize, in place
// of a Loss: given row i of the logits z and its label y, it returns the
// objective and writes ∂objective/∂z into grad (len(z) values). A TRADES
// inner maximization plugs in here, with the clean softmax cached by the
// caller and indexed by i.
type Objective func(i int, z []float32, y int, grad []float32) float64

// settings are what the engine needs from an attack's fields.
type settings struct {
	norm   Norm
	eps    float32
	init   Init
	sigma  float32
	loss   Loss
	custom Objective
	target Targeter
	// anyMiss makes a targeted attack count any misclassification as
	// success, not only the target class (AutoAttack's APGD-T and FAB-T).
	anyMiss bool
	bn      BNMode
	seed    uint64
}

// check validates the settings that come from the user.
func (s *settings) check(who string) error {
	if !(s.eps >= 0) || math.IsInf(float64(s.eps), 0) {
		return fmt.Errorf("%s: eps = %v, want a finite value ≥ 0", who, s.eps)
	}
	if s.norm != LInf && s.norm != L2 {
		return fmt.Errorf("%s: unknown norm %d", who, s.norm)
	}
	if s.init < InitUniform || s.init > InitNormal {
		return fmt.Errorf("%s: unknown init %d", who, s.init)
	}
	if !(s.sigma >= 0) || math.IsInf(float64(s.sigma), 0) {
		return fmt.Errorf("%s: sigma = %v, want a finite value ≥ 0", who, s.sigma)
	}
	if s.loss < CE || s.loss > DLR {
		return fmt.Errorf("%s: unknown loss %d", who, s.loss)
	}
	if s.bn < BNEval || s.bn > BNKeep {
		return fmt.Errorf("%s: unknown BN mode %d", who, s.bn)
	}
	return nil
}

// engine is the machinery every attack shares: input checks, the model's
// mode and frozen parameters, the starting point, forward and backward
// passes on one reused tape, and the per-sample projected steps. Buffers
// hold N·C·H·W values, sample-major.
type engine struct {
	s   settings
	who string // the attack's name for errors
	tp  *autograd.Tape
	x   *autograd.Var // leaf over cur requiring grad; its Grad is over grad
	xc  *autograd.Var // constant leaf over cur, for forward passes only
	rng *tensor.RNG   // the batch-level stream (Square's squares)

	// per-sample random starts: see sampleRNG
	srng  *tensor.RNG
	keys  []int  // the samples' keys, or nil
	salt  uint64 // told apart the runs of one sample in one call
	first int    // the position of this call's first sample (no keys)
	seen  int    // samples perturbed before this call
	draws int    // starts drawn in this call

	n, chw, classes int
	shape           [4]int
	y               []int // this batch's labels (the caller's, not kept)
	tgt             []int // targets of a targeted attack
	checked         bool  // labels checked and targets drawn this batch

	x0, lo, hi, cur, grad, noise []float32
	curT, gradT                  *tensor.Tensor
	zgrad                        *tensor.Tensor // [N, classes]: ∂objective/∂logits

	obj    []float64 // objective per sample at cur
	fooled []bool    // cur is misclassified (or classified as the target)
	active []bool    // samples that still take steps

	// the model while Perturb runs
	model    nn.Module // whose parameters params are
	params   []*autograd.Var
	froze    []bool
	wasTrain bool

	// the per-sample job run by kernels.Run
	op    jobOp
	parts int
	alpha float32   // PGD step size, or APGD momentum
	eta   []float32 // APGD step size per sample
	prev  []float32 // APGD previous iterate
	tmp   []float32 // APGD scratch
}

// tapes holds the tapes of finished attacks. A tape keeps the memory of
// its largest pass (hundreds of MB for a batch of 256), so attacks borrow
// one for a Perturb call and return it reset: attacks run one after
// another (as in Evaluate) share one tape's memory instead of holding one
// each, and steady calls still allocate nothing. A few are kept, for
// attacks that run concurrently.
var tapes = freelist.List[autograd.Tape]{New: autograd.NewTape, Max: 4}

// putTape resets tp and returns it to tapes.
func putTape(tp *autograd.Tape) {
	tp.Reset()
	tapes.Put(tp)
}

// grow returns b resized to n, reallocating only if its capacity is short.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// viewOf returns a [N, C, H, W] tensor over buf in the batch's shape,
// reusing *t if it already is one.
func (e *engine) viewOf(t **tensor.Tensor, buf []float32) *tensor.Tensor {
	return view(t, buf, e.shape)
}

// view returns a tensor of the given shape over buf, reusing *t if it
// already is one, so that steady batches allocate nothing.
func view(t **tensor.Tensor, buf []float32, shape [4]int) *tensor.Tensor {
	if v := *t; v != nil && v.Len() == len(buf) && (len(buf) == 0 || &v.Data()[0] == &buf[0]) &&
		v.Dim(0) == shape[0] && v.Dim(1) == shape[1] && v.Dim(2) == shape[2] {
		return v
	}
	v, err := tensor.FromSlice(buf, shape[:]...)
	if err != nil {
		panic("attack: " + err.Error())
	}
	*t = v
	return v
}

// begin checks a batch, sizes the buffers, sets the model's mode and
// freezes its parameters. end undoes what begin did to the model; call it
// (deferred) whenever begin succeeds.
func (e *engine) begin(m nn.Module, x *tensor.Tensor, y []int) error {
	if err := e.s.check(e.who); err != nil {
		return err
	}
	if err := checkInput(e.who, x, y); err != nil {
		return err
	}
	e.resize(x)
	copy(e.x0, x.Data())
	e.bounds()
	e.y, e.checked = y, false
	if e.keys != nil && len(e.keys) != e.n {
		return fmt.Errorf("%s: %d keys for %d samples", e.who, len(e.keys), e.n)
	}
	e.first, e.seen, e.draws = e.seen, e.seen+e.n, 0
	if e.rng == nil {
		e.rng = tensor.NewRNG(e.s.seed)
	}
	e.wasTrain = m.Training()
	switch e.s.bn {
	case BNEval:
		m.SetTrain(false)
	case BNTrain:
		m.SetTrain(true)
	}
	e.freeze(m)
	return nil
}

// checkInput checks that x is a [N, C, H, W] batch of values in [0,1]
// with N labels, none negative.
func checkInput(who string, x *tensor.Tensor, y []int) error {
	if x == nil || x.Rank() != 4 {
		return fmt.Errorf("%s: input %v, want a [N, C, H, W] batch", who, shapeOf(x))
	}
	if x.Dim(0) != len(y) {
		return fmt.Errorf("%s: %d labels for %d images", who, len(y), x.Dim(0))
	}
	for i, v := range x.Data() {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("%s: input value %v (element %d) outside [0,1]; attacks work in [0,1] input space", who, v, i)
		}
	}
	for i, c := range y {
		if c < 0 {
			return fmt.Errorf("%s: label %d of sample %d is negative", who, c, i)
		}
	}
	return nil
}

// end restores the model's mode and parameters and recycles the tape.
func (e *engine) end(m nn.Module) {
	putTape(e.tp)
	e.tp = nil
	e.thaw()
	if e.s.bn != BNKeep {
		m.SetTrain(e.wasTrain)
	}
	e.y = nil
}

func shapeOf(x *tensor.Tensor) []int {
	if x == nil {
		return nil
	}
	return x.Shape()
}

// resize sizes the buffers for x's shape.
func (e *engine) resize(x *tensor.Tensor) {
	if e.tp == nil {
		e.tp = tapes.Get()
	}
	if e.x == nil {
		e.x = autograd.Leaf(nil, true)
		e.xc = autograd.Leaf(nil, false)
	}
	copy(e.shape[:], x.Shape())
	e.n, e.chw = e.shape[0], e.shape[1]*e.shape[2]*e.shape[3]
	size := x.Len()
	for _, b := range []*[]float32{&e.x0, &e.lo, &e.hi, &e.cur, &e.grad, &e.noise} {
		*b = grow(*b, size)
	}
	e.obj = grow(e.obj, e.n)
	e.fooled = grow(e.fooled, e.n)
	e.active = grow(e.active, e.n)
	e.tgt = grow(e.tgt, e.n)
	e.x.Value = e.viewOf(&e.curT, e.cur)
	e.xc.Value = e.curT
	e.x.Grad = e.viewOf(&e.gradT, e.grad)
}

// bounds sets lo and hi to the L∞ box [x−ε, x+ε] ∩ [0,1], nudged by an
// ulp where float32 rounding would put a bound further than ε from x (in
// L2 the box is just [0,1]).
func (e *engine) bounds() {
	if e.s.norm != LInf {
		for i := range e.lo {
			e.lo[i], e.hi[i] = 0, 1
		}
		return
	}
	eps := e.s.eps
	for i, v := range e.x0 {
		l := max(v-eps, 0)
		if float64(v)-float64(l) > float64(eps) {
			l = math.Nextafter32(l, 1)
		}
		h := min(v+eps, 1)
		if float64(h)-float64(v) > float64(eps) {
			h = math.Nextafter32(h, 0)
		}
		e.lo[i], e.hi[i] = l, h
	}
}

// freeze makes m's parameters constants until thaw (SetRequiresGrad), so
// backward computes only ∂loss/∂x and leaves the parameters' Grad as the
// training step left it.
func (e *engine) freeze(m nn.Module) {
	if e.model != m {
		ps := m.Params()
		e.params = e.params[:0]
		for _, p := range ps {
			e.params = append(e.params, p.Var)
		}
		e.froze = make([]bool, len(ps))
		e.model = m
	}
	for i, v := range e.params {
		// A Var listed twice (shared weights) is frozen once.
		e.froze[i] = v.IsLeaf() && v.SetRequiresGrad(false)
	}
}

// thaw restores the parameters frozen by freeze.
func (e *engine) thaw() {
	for i, v := range e.params {
		if e.froze[i] {
			v.SetRequiresGrad(true)
		}
	}
}

// start puts cur at the starting point and makes every sample active.
// Each sample's random start comes from its own stream (sampleRNG), so it
// does not depend on the batch the sample is in.
func (e *engine) start() {
	copy(e.cur, e.x0)
	switch e.s.init {
	case InitUniform:
		if e.s.norm == LInf {
			for i := range e.n {
				e.sampleRNG(i).FillUniform(e.row(e.noise, i), -e.s.eps, e.s.eps)
			}
			for i, d := range e.noise {
				e.cur[i] = min(max(e.x0[i]+d, e.lo[i]), e.hi[i])
			}
			break
		}
		for i := range e.n {
			g, d := e.sampleRNG(i), e.row(e.noise, i)
			g.FillNormal(d, 0, 1)
			r := e.s.eps * g.Float32()
			if nrm := norm2(d); nrm > 0 {
				axpyTo(e.row(e.cur, i), e.row(e.x0, i), float32(float64(r)/nrm), d)
			}
		}
		e.projectAll()
	case InitNormal:
		for i := range e.n {
			e.sampleRNG(i).FillNormal(e.row(e.noise, i), 0, e.s.sigma)
		}
		for i, d := range e.noise {
			e.cur[i] = e.x0[i] + d
		}
		e.projectAll()
	}
	e.draws++
	for i := range e.active {
		e.active[i] = true
	}
}

// sampleRNG returns the generator of sample i's random start in the
// current draw, reseeded from the attack's seed, its salt (the target
// rank of a per-target run), the sample's key and the number of starts
// this Perturb call has drawn before. The key is the
// sample's dataset index when Evaluate runs the attack, else its position
// among the samples the attack has perturbed since it was made. So a
// sample starts from the same point whichever batch or shard it is in,
// and a sharded evaluation equals the whole one.
func (e *engine) sampleRNG(i int) *tensor.RNG {
	key := e.first + i
	if e.keys != nil {
		key = e.keys[i]
	}
	if e.srng == nil {
		e.srng = tensor.NewRNG(0)
	}
	e.srng.Reseed(tensor.SplitMix64(tensor.SplitMix64(tensor.SplitMix64(tensor.SplitMix64(e.s.seed)^e.salt)^uint64(key)) ^ uint64(e.draws)))
	return e.srng
}

// setKeys gives the samples of the next Perturb call their keys (dataset
// indices) for sampleRNG; nil returns to counting positions.
func (e *engine) setKeys(keys []int) { e.keys = keys }

// keyed is an attack whose random starts Evaluate keys by dataset index.
type keyed interface{ setKeys(keys []int) }

func (p *PGD) setKeys(keys []int)       { p.e.setKeys(keys) }
func (a *APGD) setKeys(keys []int)      { a.e.setKeys(keys) }
func (a *APGDT) setKeys(keys []int)     { a.pt.keys = keys }
func (f *FAB) setKeys(keys []int)       { f.pt.keys = keys }
func (w *WorstCase) setKeys(keys []int) { w.keys = keys }

// gatherKeys returns the keys of the gathered samples idx, in buf, or nil
// without keys.
func gatherKeys(buf, keys, idx []int) []int {
	if keys == nil {
		return nil
	}
	buf = buf[:0]
	for _, i := range idx {
		buf = append(buf, keys[i])
	}
	return buf
}

// passKeys gives attack a the keys of the gathered samples idx, if it
// takes keys.
func passKeys(a Attack, buf *[]int, keys, idx []int) {
	if k, ok := a.(keyed); ok {
		*buf = gatherKeys(*buf, keys, idx)
		k.setKeys(*buf)
	}
}

// projectAll projects every sample of cur onto its ε-ball ∩ [0,1].
func (e *engine) projectAll() {
	e.run(opProject)
}

// eval runs m on cur and sets obj and fooled; with grad it also
// back-propagates the objective, leaving ∂(Σ obj)/∂cur in grad.
func (e *engine) eval(m nn.Module, grad bool) error {
	tp := e.tp
	tp.Reset()
	in := e.xc
	if grad {
		in = e.x
		e.x.ZeroGrad()
	}
	z := m.Forward(tp, in)
	zv := z.Value
	if zv.Rank() != 2 || zv.Dim(0) != e.n {
		return fmt.Errorf("%s: model returned logits %v for %d inputs, want [%d, classes]", e.who, zv.Shape(), e.n, e.n)
	}
	if !e.checked {
		if err := e.firstEval(zv.Dim(1)); err != nil {
			return err
		}
	}
	c := e.classes
	zd, gd := zv.Data(), e.zgrad.Data()
	for i, y := range e.y {
		row, g := zd[i*c:(i+1)*c], gd[i*c:(i+1)*c]
		t := -1
		if e.s.target != nil {
			t = e.tgt[i]
		}
		if e.s.custom != nil {
			e.obj[i] = e.s.custom(i, row, y, g)
		} else {
			e.obj[i] = objective(e.s.loss, row, y, t, g)
		}
		p := tensor.ArgmaxRow(row)
		e.fooled[i] = p != y
		if t >= 0 && !e.s.anyMiss {
			e.fooled[i] = p == t
		}
	}
	if !grad {
		return nil
	}
	if !z.RequiresGrad() {
		return fmt.Errorf("%s: the model's output does not depend on its input", e.who)
	}
	tp.BackwardFrom(z, e.zgrad)
	return nil
}

// firstEval checks the labels against the model's classes, sizes the
// logit gradient and draws the targets, once per batch.
func (e *engine) firstEval(c int) error {
	for i, y := range e.y {
		if y >= c {
			return fmt.Errorf("%s: label %d of sample %d is outside the model's %d classes", e.who, y, i, c)
		}
	}
	if e.s.custom == nil {
		if err := e.s.loss.fits(c, e.s.target != nil); err != nil {
			return fmt.Errorf("%s: %v", e.who, err)
		}
	}
	if e.zgrad == nil || e.zgrad.Dim(0) != e.n || e.zgrad.Dim(1) != c {
		e.zgrad = tensor.New(e.n, c)
	}
	e.classes = c
	if e.s.target != nil {
		e.s.target(e.tgt, e.y, c)
		for i, t := range e.tgt {
			if t < 0 || t >= c {
				return fmt.Errorf("%s: target %d of sample %d is outside the model's %d classes", e.who, t, i, c)
			}
		}
	}
	e.checked = true
	return nil
}

// row returns sample i of a buffer.
func (e *engine) row(b []float32, i int) []float32 { return b[i*e.chw : (i+1)*e.chw] }

// jobOp is a per-sample operation run in parallel over the batch.
type jobOp int

const (
	opProject jobOp = iota // project cur onto the ε-ball ∩ [0,1]
	opPGD                  // one PGD step of size alpha on the active samples
	opAPGD                 // one APGD step with momentum alpha
)

// run applies op to every sample, split across the kernel threads.
func (e *engine) run(op jobOp) {
	e.op = op
	e.parts = max(1, min(kernels.Threads(), e.n))
	kernels.Run(e, e.parts)
}

// RunPart applies the current op to part p of the samples (for
// kernels.Run).
func (e *engine) RunPart(p int) {
	lo, hi := p*e.n/e.parts, (p+1)*e.n/e.parts
	for i := lo; i < hi; i++ {
		switch e.op {
		case opProject:
			e.project(e.row(e.cur, i), i)
		case opPGD:
			if e.active[i] {
				e.pgdStep(i)
			}
		case opAPGD:
			e.apgdStep(i)
		}
	}
}

// project moves xs, a point for sample i, onto the sample's ε-ball ∩ [0,1].
func (e *engine) project(xs []float32, i int) {
	if e.s.norm == LInf {
		clampBox(xs, e.row(e.lo, i), e.row(e.hi, i))
		return
	}
	projL2(xs, e.row(e.x0, i), e.s.eps)
}

// pgdStep moves sample i by alpha along the steepest-ascent direction of
// its gradient (sign(g) in L∞, g/‖g‖₂ in L2) and projects.
func (e *engine) pgdStep(i int) {
	xs, g := e.row(e.cur, i), e.row(e.grad, i)
	if e.s.norm == LInf {
		signStep(xs, xs, g, e.alpha, e.row(e.lo, i), e.row(e.hi, i))
		return
	}
	if n := norm2(g); n > 0 {
		axpyTo(xs, xs, float32(float64(e.alpha)/n), g)
	}
	projL2(xs, e.row(e.x0, i), e.s.eps)
}
