package policy

import (
	"fmt"
	"os"
	"testing"
)

func TestZZExplore(t *testing.T) {
	files := map[string]string{}
	for _, a := range []string{"main.tf", "main.tf.json", "page.tftpl", "index.js"} {
		if b, err := os.ReadFile("/tmp/pexp/" + a); err == nil {
			files[a] = string(b)
		}
	}
	for _, v := range Check(files, DefaultRules()) {
		fmt.Println(v)
	}
}
