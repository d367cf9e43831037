// Shapes shared by the CRD loader and validator: a loose JSONSchemaProps and the loaded CRD.

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps a structural schema may use. */
export interface JSONSchemaProps {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  format?: string;
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  allOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-validations"?: ValidationRule[];
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: JSONSchemaProps;
  statusSubresource: boolean;
  selectableFields: string[];
}

export interface LoadedCrd {
  /** metadata.name, `<plural>.<group>` */
  name: string;
  group: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  versions: CrdVersion[];
  /** the version objects are stored in (every served version shares this schema here: no conversion) */
  storageVersion: CrdVersion;
  /** the file it was read from */
  file: string;
  /** the CRD object as read */
  raw: Record<string, unknown>;
}

/** One entry of a 422 Status's details.causes. */
export interface FieldCause {
  field: string;
  reason: string;
  message: string;
}

export interface CrdValidationResult {
  /** the object after pruning and defaulting */
  object: unknown;
  causes: FieldCause[];
  /** paths of fields the structural schema does not know (pruned, or refused in strict mode) */
  unknownFields: string[];
}
