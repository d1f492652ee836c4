package httpx

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/labstack/echo/v4"
)

const bodyKey = "astro.body"

// SetBody keeps a request body that was checked against the contract, for BindBody;
// only request validation calls it.
func SetBody(c echo.Context, raw []byte) { c.Set(bodyKey, raw) }

// Body is the request body as checked against the contract; nil when there is none.
func Body(c echo.Context) []byte {
	raw, _ := c.Get(bodyKey).([]byte)
	return raw
}

// BindBody decodes the request body, already checked against the contract, into dst.
// Fields the contract allows but dst lacks are an error: the two must not drift.
func BindBody(c echo.Context, dst any) error {
	raw, _ := c.Get(bodyKey).([]byte)
	if raw == nil {
		return BadRequest("request body is required", map[string]any{"body": "required"})
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return ValidationFailed(map[string]any{typ.Field: "must be " + typ.Type.String()})
		}
		return BadRequest("request body does not fit the operation", map[string]any{"body": err.Error()})
	}
	return nil
}
