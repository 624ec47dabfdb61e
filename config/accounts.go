package config

// AccountOptions declare an account. Users join it through their Account
// field; each account is an isolated subject space.
type AccountOptions struct {
	Name string
}
