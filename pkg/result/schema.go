package result

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSONSchema is the JSON Schema (draft 2020-12) of result.json.
//
//go:embed result.schema.json
var JSONSchema []byte

var (
	schemaMu  sync.Mutex
	schema    *jsonschema.Schema
	schemaFor string // the catalogue schema was compiled for
)

// ValidateJSON checks a result document against JSONSchema.
func ValidateJSON(doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return validate(v)
}

// catalogueKey names the catalogue's objectives as the schema reads them.
func catalogueKey() string {
	var b strings.Builder
	for _, ob := range Catalogue {
		fmt.Fprintf(&b, "%s/%s/%t;", ob.Doc, ob.Unit, ob.Positive)
	}
	return b.String()
}

// compiledSchema is JSONSchema with its objectives fragment made from the
// catalogue (objectivesSchema), so that an objective added to the
// catalogue is one result.json may hold; compiled again when the
// catalogue changes.
func compiledSchema() (*jsonschema.Schema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	key := catalogueKey()
	if schema != nil && schemaFor == key {
		return schema, nil
	}
	doc, err := SchemaDocument()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err = c.AddResource("result.schema.json", doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile("result.schema.json")
	if err != nil {
		return nil, err
	}
	schema, schemaFor = sch, key
	return schema, nil
}

// SchemaDocument is the schema of result.json as validation reads it:
// JSONSchema with $defs.objectives made from the catalogue.
func SchemaDocument() (map[string]any, error) {
	s, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema))
	if err != nil {
		return nil, err
	}
	doc, ok := s.(map[string]any)
	defs, ok2 := doc["$defs"].(map[string]any)
	if !ok || !ok2 {
		return nil, fmt.Errorf("result.schema.json has no $defs")
	}
	frag, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(objectivesSchema())))
	if err != nil {
		return nil, err
	}
	defs["objectives"] = frag
	classes := make([]any, 0, len(ErrorClasses()))
	for _, c := range ErrorClasses() {
		classes = append(classes, c)
	}
	defs["error_class"] = map[string]any{"enum": classes}
	counts := map[string]any{}
	for _, c := range ErrorClasses() {
		counts[c] = map[string]any{"type": "integer", "minimum": 1}
	}
	defs["errors_by_class"] = map[string]any{"type": []any{"object", "null"}, "properties": counts, "additionalProperties": false}
	return doc, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// validate checks a document already parsed by jsonschema.UnmarshalJSON.
func validate(v any) error {
	sch, err := compiledSchema()
	if err != nil {
		return fmt.Errorf("result: schema: %w", err)
	}
	return sch.Validate(v)
}
