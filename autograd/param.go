package autograd

// Param is a named learnable parameter: a leaf Var that requires a
// gradient, named by its path in its model's state dict (such as
// "layer1.0.conv1.weight"). Models list them (nn.Module.Params) and
// optimizers take the same list (nn.Param and optim.Param are this type),
// so no caller converts between the two. Names key optimizer state and
// must be unique.
type Param struct {
	Name string
	Var  *Var
}
