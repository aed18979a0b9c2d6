// Package bench holds the measurements that take minutes and run only when
// asked, behind the build tag "bench": bench/run.sh runs them together with
// the benchmarks of the other packages. See BENCHMARKS.md for the figures.
package bench
