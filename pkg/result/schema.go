package result

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSONSchema is the JSON Schema (draft 2020-12) of result.json.
//
//go:embed result.schema.json
var JSONSchema []byte

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// ValidateJSON checks a result document against JSONSchema.
func ValidateJSON(doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return validate(v)
}

// validate checks a document already parsed by jsonschema.UnmarshalJSON.
func validate(v any) error {
	schemaOnce.Do(func() {
		s, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if err = c.AddResource("result.schema.json", s); err != nil {
			schemaErr = err
			return
		}
		schema, schemaErr = c.Compile("result.schema.json")
	})
	if schemaErr != nil {
		return fmt.Errorf("result: schema: %w", schemaErr)
	}
	return schema.Validate(v)
}
