// The part of the built-in pod defaulting and validation a controller notices: the fields the
// real server fills in a pod template (so a naive "desired == actual" comparison never settles
// against a real cluster either), and the errors it refuses a template with.
import { fieldErrors, type FieldError, type FieldPath } from "../crd/field-error.js";
import { isRecord, type JsonObject } from "./types.js";

const setDefault = (obj: JsonObject, key: string, value: unknown) => {
  if (obj[key] === undefined) obj[key] = value;
};

function imagePullPolicy(image: string): string {
  if (image.includes("@")) return "IfNotPresent";
  const lastPart = image.split("/").pop() ?? image;
  const tag = lastPart.includes(":") ? lastPart.split(":").pop() : undefined;
  return tag === undefined || tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultProbe(probe: unknown): void {
  if (!isRecord(probe)) return;
  setDefault(probe, "timeoutSeconds", 1);
  setDefault(probe, "periodSeconds", 10);
  setDefault(probe, "successThreshold", 1);
  setDefault(probe, "failureThreshold", 3);
}

function defaultContainer(c: unknown): void {
  if (!isRecord(c)) return;
  setDefault(c, "terminationMessagePath", "/dev/termination-log");
  setDefault(c, "terminationMessagePolicy", "File");
  if (typeof c["image"] === "string") setDefault(c, "imagePullPolicy", imagePullPolicy(c["image"]));
  setDefault(c, "resources", {});
  if (Array.isArray(c["ports"])) for (const p of c["ports"]) if (isRecord(p)) setDefault(p, "protocol", "TCP");
  if (Array.isArray(c["env"])) {
    for (const e of c["env"]) {
      const fieldRef = isRecord(e) && isRecord(e["valueFrom"]) ? e["valueFrom"]["fieldRef"] : undefined;
      if (isRecord(fieldRef)) setDefault(fieldRef, "apiVersion", "v1");
      // EnvVar.value is `omitempty`: the real server stores and answers "" as no value at all.
      if (isRecord(e) && e["value"] === "") Reflect.deleteProperty(e, "value");
    }
  }
  defaultProbe(c["livenessProbe"]);
  defaultProbe(c["readinessProbe"]);
  defaultProbe(c["startupProbe"]);
}

function defaultVolume(v: unknown): void {
  if (!isRecord(v)) return;
  if (isRecord(v["hostPath"])) setDefault(v["hostPath"], "type", "");
  if (isRecord(v["configMap"])) setDefault(v["configMap"], "defaultMode", 420);
  if (isRecord(v["secret"])) setDefault(v["secret"], "defaultMode", 420);
  if (isRecord(v["projected"])) setDefault(v["projected"], "defaultMode", 420);
}

/** SetDefaults_PodSpec and friends, for the fields most often set. */
export function defaultPodSpec(spec: unknown): void {
  if (!isRecord(spec)) return;
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "securityContext", {});
  setDefault(spec, "schedulerName", "default-scheduler");
  if (typeof spec["serviceAccountName"] === "string") setDefault(spec, "serviceAccount", spec["serviceAccountName"]);
  for (const key of ["containers", "initContainers"]) {
    const list = spec[key];
    if (Array.isArray(list)) list.forEach(defaultContainer);
  }
  if (Array.isArray(spec["volumes"])) spec["volumes"].forEach(defaultVolume);
}

/** The pod spec errors a real server would refuse a template or pod with (a subset). */
export function validatePodSpec(spec: unknown, path: FieldPath): FieldError[] {
  if (!isRecord(spec)) return [fieldErrors.required(path.child("containers"))];
  const errs: FieldError[] = [];
  const containers = spec["containers"];
  if (!Array.isArray(containers) || containers.length === 0) {
    errs.push(fieldErrors.required(path.child("containers")));
    return errs;
  }
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const cp = path.child("containers").index(i);
    if (!isRecord(c)) return;
    const name = c["name"];
    if (typeof name !== "string" || name === "") errs.push(fieldErrors.required(cp.child("name")));
    else if (names.has(name)) errs.push(fieldErrors.duplicate(cp.child("name"), name));
    else names.add(name);
    if (typeof c["image"] !== "string" || c["image"].trim() === "") errs.push(fieldErrors.required(cp.child("image")));
  });
  return errs;
}
