package policy

import "testing"

func TestCompatibleVersions(t *testing.T) {
	for _, tc := range []struct {
		tenant string
		want   bool
	}{
		{"~> 5.0", true},
		{"~> 6.0", true},
		{">= 5.50", true},
		{"5.31.0", true},
		{"> 6.99.99", true},
		{"~> 4.0", false},
		{">= 7.0", false},
		{"< 5.0", false},
		{">= 5.1, != 5.1.0, < 5.1.1", false},
		{">= 6.2, < 6.3, != 6.2.0", true},
	} {
		got, err := compatibleVersions(DefaultAWSProviderVersion, tc.tenant)
		if err != nil || got != tc.want {
			t.Errorf("compatibleVersions(%q) = %v, %v; want %v", tc.tenant, got, err, tc.want)
		}
	}
	if _, err := compatibleVersions(DefaultAWSProviderVersion, "banana"); err == nil {
		t.Error("an invalid constraint was accepted")
	}
}
