// Form fields generated from a JSON schema's properties: types, enums, defaults,
// required fields, nullable values (anyOf with null). Errors are shown inline.
import { h } from "./dom.js";

export function fieldType(schema) {
  if (!schema) return { type: "json", nullable: true };
  if (Array.isArray(schema.anyOf)) {
    const real = schema.anyOf.filter((s) => s.type !== "null");
    const base = real.length === 1 ? fieldType(real[0]) : { type: "json" };
    return { ...base, nullable: schema.anyOf.length > real.length };
  }
  if (Array.isArray(schema.enum)) return { type: "enum", options: schema.enum };
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== "null") : schema.type;
  const nullable = Array.isArray(schema.type) && schema.type.includes("null");
  if (["string", "integer", "number", "boolean"].includes(t)) return { type: t, nullable };
  return { type: "json", nullable };
}

// fields: [{name, schema, required, value}] -> {element, read()}; read() returns
// {values, ok}; empty optional fields are left out so the workflow default applies.
export function schemaForm(fields, { prefix, multiline = false } = {}) {
  const controls = [];
  const element = h("div", { class: "fields" });
  for (const f of fields) {
    const kind = fieldType(f.schema);
    const id = `${prefix}-${f.name}`;
    const errorId = `${id}-error`;
    const initial = f.value !== undefined ? f.value : f.schema?.default;
    let input;
    const common = { id, name: f.name, "aria-describedby": errorId, required: f.required || undefined };
    if (kind.type === "enum") {
      input = h("select", common, f.required ? null : h("option", { value: "" }, "(default)"),
        kind.options.map((o) => h("option", { value: JSON.stringify(o), selected: JSON.stringify(o) === JSON.stringify(initial) }, String(o))));
    } else if (kind.type === "boolean") {
      input = h("input", { ...common, type: "checkbox", checked: Boolean(initial) });
    } else if (kind.type === "integer" || kind.type === "number") {
      input = h("input", { ...common, type: "number", step: kind.type === "integer" ? "1" : "any", value: initial ?? "" });
    } else if (kind.type === "string") {
      input = multiline
        ? h("textarea", common, initial ?? "")
        : h("input", { ...common, type: "text", value: initial ?? "" });
    } else {
      input = h("textarea", { ...common, class: "code", rows: 4, style: "min-height:80px" }, initial === undefined ? "" : JSON.stringify(initial, null, 2));
    }
    const error = h("div", { id: errorId, class: "error", role: "alert" });
    const hint = [kind.type === "json" ? "JSON" : kind.type === "enum" ? "choice" : kind.type];
    if (f.required) hint.push("required");
    if (kind.nullable) hint.push("may be empty");
    element.append(h("div", { class: "field", "data-field": f.name },
      h("label", { for: id }, f.name, " ", h("span", { class: "hint" }, `(${hint.join(", ")})`)),
      f.schema?.description ? h("div", { class: "hint" }, f.schema.description) : null,
      input, error));
    controls.push({ f, kind, input, error });
  }
  return {
    element,
    read() {
      const values = {};
      let ok = true;
      for (const { f, kind, input, error } of controls) {
        error.textContent = "";
        const raw = kind.type === "boolean" ? input.checked : input.value;
        if (kind.type !== "boolean" && raw.trim() === "") {
          if (f.required) { error.textContent = `${f.name} is required`; ok = false; }
          else if (f.keepEmpty && kind.nullable) values[f.name] = null;
          continue;
        }
        try {
          if (kind.type === "boolean") values[f.name] = raw;
          else if (kind.type === "enum") values[f.name] = JSON.parse(raw);
          else if (kind.type === "integer") {
            if (!/^-?\d+$/.test(raw.trim())) throw new Error("a whole number");
            values[f.name] = Number(raw);
          } else if (kind.type === "number") {
            if (!Number.isFinite(Number(raw))) throw new Error("a number");
            values[f.name] = Number(raw);
          } else if (kind.type === "string") values[f.name] = raw;
          else values[f.name] = JSON.parse(raw);
        } catch (e) {
          error.textContent = `${f.name} must be ${e instanceof SyntaxError ? "valid JSON" : e.message}`;
          ok = false;
        }
      }
      return { values, ok };
    },
    showError(name, message) {
      const c = controls.find((x) => x.f.name === name);
      if (c) c.error.textContent = message;
      return Boolean(c);
    },
  };
}
