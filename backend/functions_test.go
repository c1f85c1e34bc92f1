package backend

import "testing"

func TestSettling(t *testing.T) {
	for msg, want := range map[string]bool{
		"Source image 123456789012.dkr.ecr.us-east-1.amazonaws.com/sockerless:agent-1 does not exist. Provide a valid source image.": true,
		"The role defined for the function cannot be assumed by Lambda.":                                                             true,
		"Image repository must be in the same region.":                                                                               false,
		"Memory size must be a multiple of 1MB":                                                                                      false,
	} {
		if got := settling(msg); got != want {
			t.Errorf("settling(%q) = %v, want %v", msg, got, want)
		}
	}
}
