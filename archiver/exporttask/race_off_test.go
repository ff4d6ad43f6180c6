//go:build !race

package exporttask_test

const raceEnabled = false
