package aws

import (
	"encoding/json"
	"fmt"
	"sort"
)

// StateARNs returns the "arn" attribute of every managed resource instance
// in a terraform state document (format version 4, as the pg backend
// stores it; store.TerraformStates), sorted. Resources without one
// (terraform_data, random_*) are left out.
func StateARNs(state []byte) ([]string, error) {
	var doc struct {
		Version   int `json:"version"`
		Resources []struct {
			Mode      string `json:"mode"`
			Instances []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(state, &doc); err != nil {
		return nil, fmt.Errorf("the terraform state is not JSON: %w", err)
	}
	if doc.Version != 4 {
		return nil, fmt.Errorf("terraform state format version %d, want 4", doc.Version)
	}
	var arns []string
	for _, r := range doc.Resources {
		if r.Mode != "managed" {
			continue
		}
		for _, in := range r.Instances {
			if arn, _ := in.Attributes["arn"].(string); arn != "" {
				arns = append(arns, arn)
			}
		}
	}
	sort.Strings(arns)
	return arns, nil
}
