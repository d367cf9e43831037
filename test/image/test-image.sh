#!/bin/bash
# `npm run test:image`: build the Dockerfile's two targets with podman and check
# what each image holds and does.
#
#   1. local base images (base-images.sh: debootstrap + podman import, cached)
#   2. podman build --target controller, --target agent
#   3. both run the bundle: the ENTRYPOINT is node on /app/dist/bundle/droptrace.mjs
#      (the agent's with its heap flags), /app holds the bundle, its licence
#      notices and the probe script and nothing else (no node_modules, no
#      dist/src, no source maps)
#   4. controller: `droptrace --help` with a read-only root and no capabilities,
#      `droptrace controller` loads the controller's code and names the settings it
#      lacks, a non-root numeric user, no SystemTap or compiler inside
#   5. agent: `droptrace --help`, `droptrace agent` outside a DaemonSet loads the
#      agent's code (the Kubernetes client among it) and names the variables the
#      DaemonSet sets, `stap --version` (the SystemTap the base promises),
#      `staprun -V`, root, gcc/make/kmod/elfutils on PATH
#   6. agent: `droptrace run --duration 5s` gives this machine's real answer:
#      exit 3 and the preflight message (on a kernel without module loading,
#      as on the project's CI machines, that is "cannot load modules")
#   7. agent: `droptrace compile` against real kernel headers mounted read-only
#      the way the agent's pod mounts the host's, when a tree with headers is at
#      hand (the real-kernel tests' guest tree, or DROPTRACE_IMAGE_HEADERS_TREES);
#      skipped, and said so, when none is
#   8. labels, and image sizes against a budget
# Prints each step's time, each image's size, and a final "N passed, N failed"
# line; exits non-zero when anything failed.
#
# Environment:
#   DROPTRACE_IMAGE_TAG             tag for both images (default: package.json's version)
#   DROPTRACE_IMAGE_HEADERS_TREES   colon-separated roots of trees with [usr/]lib/modules/<release>/build
#                                   and usr/src (default: the real-kernel tests' guest tree, if built)
#   DROPTRACE_GUEST_CACHE           where test/kernel/build-guest.sh keeps its tree (default /var/cache/droptrace-guest)
#   DROPTRACE_IMAGE_CACHE           base-image and SystemTap cache (default /var/cache/droptrace-images)
#   DROPTRACE_BUILD_CA              CA bundle npm must trust in the build (default: $NODE_EXTRA_CA_CERTS, npm's cafile)
#   DROPTRACE_CONTROLLER_MAX_MB, DROPTRACE_AGENT_MAX_MB   size budgets (default 260, 760)
#   CONTAINERS_CONF                 podman configuration (default: a file with `default_ulimits = []`,
#                                   without which runc cannot start containers here)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
started=$SECONDS
passed=0
failed=0
skipped=0

say() { printf '%s\n' "$*"; }
pass() { passed=$((passed + 1)); say "ok      $1"; }
fail() { failed=$((failed + 1)); say "FAILED  $1"; shift; local line; for line in "$@"; do say "        $line"; done; }
skip() { skipped=$((skipped + 1)); say "skipped $1"; }
step() { say ""; say "== $1 ($((SECONDS - started))s)"; }
finish() {
  say ""
  say "total $((SECONDS - started))s"
  ((skipped > 0)) && say "$skipped skipped"
  say "$passed passed, $failed failed"
  if ((failed > 0)); then
    say "build logs kept in $logs"
    exit 1
  fi
  rm -rf "$logs"
  exit 0
}

if [[ $(id -u) != 0 ]]; then
  say "test:image must run as root: the base images are bootstrapped with debootstrap and chroot, and podman runs rootful"
  say "0 passed, 1 failed"
  exit 1
fi
for tool in podman runc; do
  if ! command -v "$tool" >/dev/null; then
    say "test:image needs $tool: apt-get install -y podman buildah runc"
    say "0 passed, 1 failed"
    exit 1
  fi
done

logs=$(mktemp -d /tmp/droptrace-test-image.XXXXXX)
if [[ -z ${CONTAINERS_CONF:-} ]]; then
  # runc cannot apply podman's default rlimits in this kind of sandbox.
  printf '[containers]\ndefault_ulimits = []\n' >"$logs/containers.conf"
  export CONTAINERS_CONF="$logs/containers.conf"
fi
podman=(podman --runtime runc --cgroup-manager cgroupfs)
export PODMAN="${podman[*]}"
cache_root=${DROPTRACE_IMAGE_CACHE:-/var/cache/droptrace-images}

version=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$repo/package.json" | head -n1)
tag=${DROPTRACE_IMAGE_TAG:-${version:-dev}}
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
[[ $revision != unknown && -n $(git -C "$repo" status --porcelain 2>/dev/null | head -n1) ]] && revision="$revision-dirty"
controller_image=localhost/droptrace-controller:$tag
agent_image=localhost/droptrace-agent:$tag

# runs a container; the image's entrypoint unless --entrypoint is given
run() { "${podman[@]}" run --rm --network none "$@"; }

# ---------------------------------------------------------------------------
step "base images (test/image/base-images.sh)"
t=$SECONDS
if bases=$(bash "$here/base-images.sh"); then
  eval "$bases"
  pass "base images in $((SECONDS - t))s: $NODE_BASE, $BUILD_BASE, $AGENT_BASE"
else
  fail "base images: base-images.sh failed (its ERROR line above says why)"
  finish
fi

# ---------------------------------------------------------------------------
build_args=(--network host --layers
  --build-arg "BUILD_BASE=$BUILD_BASE" --build-arg "NODE_BASE=$NODE_BASE" --build-arg "AGENT_BASE=$AGENT_BASE"
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision")
# npm ci in the build reaches the registry through this machine's network; where
# that network intercepts TLS, npm must trust the same CA the host does.
ca=${DROPTRACE_BUILD_CA:-${NODE_EXTRA_CA_CERTS:-}}
if [[ -z $ca ]] && command -v npm >/dev/null; then
  ca=$(npm config get cafile 2>/dev/null || true)
  [[ $ca == null || $ca == undefined ]] && ca=
fi
if [[ -n $ca && -f $ca ]]; then
  build_args+=(--volume "$(realpath "$ca"):/run/build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/build-ca.crt)
  say "npm in the build trusts $ca"
fi

built=()
for target in controller agent; do
  image=localhost/droptrace-$target:$tag
  step "podman build --target $target -t $image"
  t=$SECONDS
  if "${podman[@]}" build "${build_args[@]}" --target "$target" -t "$image" -f "$repo/Dockerfile" "$repo" >"$logs/build-$target.log" 2>&1; then
    pass "build $target in $((SECONDS - t))s"
    built+=("$target")
  else
    mapfile -t tail_lines < <(tail -n 25 "$logs/build-$target.log")
    fail "build $target ($((SECONDS - t))s); the end of its log:" "${tail_lines[@]}"
  fi
done
is_built() { [[ " ${built[*]} " == *" $1 "* ]]; }

label() { "${podman[@]}" image inspect --format "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null; }
size_mb() { echo $(($("${podman[@]}" image inspect --format '{{.Size}}' "$1") / 1000000)); }

# ---------------------------------------------------------------------------
bundle=/app/dist/bundle/droptrace.mjs
entrypoint() { "${podman[@]}" image inspect --format '{{json .Config.Entrypoint}}' "$1" 2>/dev/null; }
for target in "${built[@]}"; do
  image=localhost/droptrace-$target:$tag
  step "$target image: runs the bundle"
  ep=$(entrypoint "$image")
  # The agent's heap flags keep it under its memory goal: bench/agent/memory/agent.ts measures
  # the agent as this ENTRYPOINT starts it.
  if [[ $ep == '["node",'*"\"$bundle\"]" && ($target != agent || ($ep == *'"--max-old-space-size='* && $ep == *'"--max-semi-space-size='*)) ]]; then
    pass "$target: ENTRYPOINT $ep"
  else
    want="[\"node\", flags..., \"$bundle\"]"
    [[ $target == agent ]] && want="$want, the flags holding --max-old-space-size and --max-semi-space-size"
    fail "$target: ENTRYPOINT should be $want" "$ep"
  fi
  if [[ $target == agent ]]; then
    # bench/agent/memory/agent.ts measures the agent with these too.
    env=$("${podman[@]}" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image" | grep '^MALLOC_' | sort | tr '\n' ' ')
    if [[ $env == *MALLOC_MMAP_THRESHOLD_=* && $env == *MALLOC_TRIM_THRESHOLD_=* ]]; then
      pass "agent: ENV $env"
    else
      fail "agent: ENV should set MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_" "${env:-(none)}"
    fi
  fi
  # What /app holds: the bundle's .mjs files, their licences and the probe script, nothing the bundle made unnecessary.
  out=$(run --entrypoint sh "$image" -c 'cd /app && find . -type f | sort' 2>&1)
  extra=$(grep -v -E '^\./(dist/bundle/(chunks/)?[A-Za-z0-9_-]+\.mjs|dist/bundle/THIRD-PARTY-LICENSES\.txt|stap/droptrace\.stp)$' <<<"$out")
  if [[ $out == *"./dist/bundle/droptrace.mjs"* && $out == *"./dist/bundle/THIRD-PARTY-LICENSES.txt"* && $out == *"./stap/droptrace.stp"* && -z $extra ]]; then
    pass "$target: /app holds the bundle ($(grep -c '\.mjs$' <<<"$out") .mjs files, $(run --entrypoint du "$image" -sh /app/dist/bundle 2>/dev/null | cut -f1) with THIRD-PARTY-LICENSES.txt) and stap/droptrace.stp, nothing else"
  else
    fail "$target: /app should hold dist/bundle/**/*.mjs, dist/bundle/THIRD-PARTY-LICENSES.txt and stap/droptrace.stp only" "${extra:-$out}"
  fi
done

# ---------------------------------------------------------------------------
if is_built controller; then
  step "controller image"
  # As the chart runs it: read-only root, every capability dropped, not root.
  if out=$(run --read-only --cap-drop ALL --security-opt no-new-privileges "$controller_image" --help 2>&1) &&
    [[ $out == *"Usage: droptrace"* && $out == *controller* ]]; then
    pass "controller: droptrace --help (read-only root, no capabilities)"
  else
    fail "controller: droptrace --help did not print the usage" "$out"
  fi

  # Loads the controller's chunk of the bundle (and the Kubernetes client), then stops at its settings.
  out=$(run --read-only --cap-drop ALL "$controller_image" controller 2>&1)
  code=$?
  if [[ $code == 2 && $out == *POD_NAMESPACE* ]]; then
    pass "controller: droptrace controller without its settings exits 2: $(head -n1 <<<"$out" | cut -c1-120)"
  else
    fail "controller: droptrace controller without its settings should exit 2 naming POD_NAMESPACE; it exited $code" "$out"
  fi

  user=$("${podman[@]}" image inspect --format '{{.Config.User}}' "$controller_image")
  uid=$(run --entrypoint id "$controller_image" -u 2>&1)
  if [[ $user =~ ^[1-9][0-9]*(:[0-9]+)?$ && $uid =~ ^[1-9][0-9]*$ ]]; then
    pass "controller: runs as uid $uid (image user $user, numeric, so runAsNonRoot can verify it)"
  else
    fail "controller: must run as a numeric non-root user" "image user '$user', id -u in the container: $uid"
  fi

  found=$(run --entrypoint sh "$controller_image" -c 'for c in stap staprun gcc cc make npm; do command -v "$c"; done; true' 2>&1)
  if [[ -z $found ]]; then
    pass "controller: no stap, staprun, gcc, cc, make or npm inside"
  else
    fail "controller: carries tools it must not" "$found"
  fi
fi

# ---------------------------------------------------------------------------
if is_built agent; then
  step "agent image"
  if out=$(run "$agent_image" --help 2>&1) && [[ $out == *"Usage: droptrace"* && $out == *agent* ]]; then
    pass "agent: droptrace --help"
  else
    fail "agent: droptrace --help did not print the usage" "$out"
  fi

  # Loads the agent's chunk of the bundle (and the Kubernetes client), then stops at its settings.
  out=$(run "$agent_image" agent 2>&1)
  code=$?
  if [[ $code == 2 && $out == *"DROPTRACE_TRACE, DROPTRACE_TRACE_UID, NODE_NAME, DROPTRACE_DURATION not set"* ]]; then
    pass "agent: droptrace agent outside a DaemonSet exits 2 and names the variables it sets"
  else
    fail "agent: droptrace agent outside a DaemonSet should exit 2 naming the variables the DaemonSet sets; it exited $code" "$out"
  fi

  promised=$(label "$agent_image" io.droptrace.base.packages | tr ' ' '\n' | sed -n 's/^systemtap=\([0-9][0-9.]*\).*/\1/p')
  if out=$(run --entrypoint stap "$agent_image" --version 2>&1) && [[ -n $promised && $out == *"version $promised"* ]]; then
    pass "agent: stap --version: $(head -n1 <<<"$out")"
  else
    fail "agent: stap --version should say version ${promised:-(unknown: the base image names no systemtap in its label)}" "$out"
  fi

  # SystemTap 5.6's staprun -V prints nothing, but exits 0; droptrace's
  # preflight relies on that exit status to find staprun.
  if out=$(run --entrypoint staprun "$agent_image" -V 2>&1); then
    pass "agent: staprun -V exits 0${out:+: $(head -n1 <<<"$out")}"
  else
    fail "agent: staprun -V failed" "$out"
  fi

  out=$(run --entrypoint sh "$agent_image" -c 'id -u; for c in stap staprun gcc gcc-14 gcc-12 make modprobe rmmod lsmod eu-readelf node; do command -v "$c" >/dev/null || echo "missing $c"; done; node --version' 2>&1)
  if [[ $(head -n1 <<<"$out") == 0 && $out != *missing* ]]; then
    pass "agent: root, with stap, staprun, gcc (16, 14 and 12), make, kmod, elfutils and node $(tail -n1 <<<"$out")"
  else
    fail "agent: must run as root with stap, staprun, gcc, gcc-14, gcc-12, make, kmod (modprobe, rmmod, lsmod), elfutils (eu-readelf), node" "$out"
  fi

  # The real answer on this machine: privileged and with the host's kernel
  # directories where they exist, as the DaemonSet runs it; no cached module,
  # so it needs headers to compile one and module loading to load it.
  mounts=()
  for dir in /lib/modules /usr/src /sys/kernel/tracing; do
    [[ -d $dir && -n $(ls -A "$dir" 2>/dev/null) ]] && mounts+=(-v "$dir:$dir:ro")
  done
  t=$SECONDS
  out=$(run --privileged "${mounts[@]}" "$agent_image" run --duration 5s 2>&1)
  code=$?
  if [[ ! -e /proc/modules ]]; then
    expected="cannot load modules"
  else
    expected="droptrace run:"
  fi
  if [[ $code == 3 && $out == *"$expected"* ]]; then
    pass "agent: droptrace run --duration 5s exits 3 in $((SECONDS - t))s:$(grep -m1 -F -- "$expected" <<<"$out" | sed 's/^ *-* */ /')"
  elif [[ $code == 0 && -e /proc/modules ]]; then
    pass "agent: droptrace run --duration 5s traced on this machine (exit 0)"
  else
    fail "agent: droptrace run --duration 5s should exit 3 saying '$expected'; it exited $code" "$out"
  fi

  # ---------------------------------------------------------------------------
  step "agent image: compile the probe against mounted kernel headers"
  trees=()
  if [[ -n ${DROPTRACE_IMAGE_HEADERS_TREES:-} ]]; then
    IFS=: read -r -a trees <<<"$DROPTRACE_IMAGE_HEADERS_TREES"
  else
    # test/kernel/build-guest.sh keeps finished trees as <cache>/<suite>-<key>/tree beside a "complete" marker.
    marker=$(find "${DROPTRACE_GUEST_CACHE:-/var/cache/droptrace-guest}" -mindepth 2 -maxdepth 2 -name complete -printf '%T@ %h\n' 2>/dev/null | sort -rn | head -n1 | cut -d' ' -f2-)
    [[ -n $marker ]] && trees=("$marker/tree")
  fi
  if ((${#trees[@]} == 0)); then
    fail "agent: droptrace compile against real headers: no tree with kernel headers (npm run test:kernel builds it: run it first, or set DROPTRACE_IMAGE_HEADERS_TREES)"
  fi
  compiled=()
  for tree in "${trees[@]}"; do
    # A debootstrapped tree has lib -> usr/lib; a tree of unpacked .debs only usr/lib.
    modules=$tree/lib/modules
    [[ -d $modules ]] || modules=$tree/usr/lib/modules
    # Every kernel the tree has headers for: the real-kernel suite's tree holds Debian 12's
    # 6.1, Debian 13's 6.12 and sid's newest, each needing its own gcc from the image.
    releases=()
    for r in $(find "$modules" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V); do
      if [[ -L $modules/$r/build && -d $tree/usr/src/linux-headers-$r ]]; then releases+=("$r"); fi
    done
    if ((${#releases[@]} == 0)); then
      fail "agent: droptrace compile: $tree has no lib/modules/<release>/build with headers in usr/src"
      continue
    fi
    # What a node's pod mounts: /lib/modules and /usr/src read-only; on Debian
    # the headers' scripts/ and tools/ link into /usr/lib/linux-kbuild-*.
    hmounts=(-v "$modules:/lib/modules:ro" -v "$tree/usr/src:/usr/src:ro")
    for kbuild in "$tree"/usr/lib/linux-kbuild-*; do
      [[ -d $kbuild ]] && hmounts+=(-v "$kbuild:/usr/lib/${kbuild##*/}:ro")
    done
    # SystemTap's own cache, kept between runs (it is keyed by script, kernel,
    # compiler and SystemTap version); droptrace's module cache starts empty
    # every time, so droptrace always drives stap.
    mkdir -p "$cache_root/systemtap-cache"
    for release in "${releases[@]}"; do
      cc=$(sed -n 's/^CC = .*\(gcc-[0-9]*\)$/\1/p' "$tree/usr/src/linux-headers-$release/.kernelvariables" 2>/dev/null | head -n1)
      t=$SECONDS
      out=$(run "${hmounts[@]}" -v "$cache_root/systemtap-cache:/root/.systemtap" --entrypoint sh "$agent_image" -c \
        "node $bundle compile --kernel-release '$release' --cache-dir /tmp/modules && modinfo -F vermagic /tmp/modules/'$release'/*.ko" 2>&1)
      code=$?
      # vermagic is what the kernel checks before it loads the module.
      if [[ $code == 0 && $(tail -n1 <<<"$out") == "$release "* ]]; then
        compiled+=("$release")
        pass "agent: droptrace compile for $release (its headers name ${cc:-an unknown gcc}) with headers mounted read-only, in $((SECONDS - t))s: $(head -n1 <<<"$out"), vermagic $(tail -n1 <<<"$out")"
      else
        mapfile -t tail_lines < <(tail -n 20 <<<"$out")
        fail "agent: droptrace compile for $release (headers from $tree, compiler ${cc:-unknown}) exited $code" "${tail_lines[@]}"
      fi
    done
  done
  # The kernels clusters run, and sid's: each must compile in the image, with its own gcc.
  for family in '6\.1\.0-' '6\.12\.' '7\.'; do
    grep -q "^$family" <(printf '%s\n' "${compiled[@]}") || fail "agent: no kernel matching ^$family compiled in the image (compiled: ${compiled[*]:-none})"
  done
fi

# ---------------------------------------------------------------------------
step "labels and sizes"
for target in "${built[@]}"; do
  image=localhost/droptrace-$target:$tag
  missing=()
  for l in title description version revision licenses base.name; do
    [[ -n $(label "$image" "org.opencontainers.image.$l") ]] || missing+=("org.opencontainers.image.$l")
  done
  if ((${#missing[@]} == 0)); then
    pass "$target: OCI labels (version $(label "$image" org.opencontainers.image.version), revision $(label "$image" org.opencontainers.image.revision))"
  else
    fail "$target: labels missing: ${missing[*]}"
  fi
done

for base in "$NODE_BASE" "$BUILD_BASE" "$AGENT_BASE"; do
  say "size   $(size_mb "$base") MB  $base"
done
# Budgets catch a compiler in the controller or a forgotten cache in a layer.
declare -A budget=([controller]=${DROPTRACE_CONTROLLER_MAX_MB:-260} [agent]=${DROPTRACE_AGENT_MAX_MB:-760})
for target in "${built[@]}"; do
  image=localhost/droptrace-$target:$tag
  mb=$(size_mb "$image")
  say "size   $mb MB  $image"
  if ((mb <= budget[$target])); then
    pass "$target: $mb MB, within its ${budget[$target]} MB budget"
  else
    fail "$target: $mb MB, over its ${budget[$target]} MB budget"
  fi
done

finish
