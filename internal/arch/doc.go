// Package arch holds no code: its test keeps ARCHITECTURE.md true, checking that every
// package sits in the layer the map gives it and imports only packages of lower layers.
package arch
