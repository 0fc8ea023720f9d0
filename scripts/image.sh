#!/usr/bin/env bash
# Build the production image with podman on a local Debian bookworm base, then check it.
#
#   bash scripts/image.sh [--rebuild-base]
#
# Steps, each skipped when already done: install podman, buildah, runc and debootstrap
# (Debian packages); build the base image localhost/turntaking-base:bookworm with
# debootstrap (minbase plus python3, python3-venv and ca-certificates), reused unless
# --rebuild-base; build the Dockerfile on it as turntaking-agent. Only the build reaches the
# network (Debian packages and PyPI); the checks run the container without a network:
#   no settings    `start` with no settings exits 2 with one line naming the missing variables
#   user           `id` inside shows the non-root user (uid 10001)
#   help           `python agent.py --help` exits 0
#   app files      /app holds agent.py, prompts and worker only
#   venv           the venv holds exactly requirements/runtime.lock plus the plugin
#   models         the worker's modules import and every model loads, offline
#   size           the image size in MB (reported)
# Exits non-zero if a step or a check fails. Needs root (rootful podman, debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=turntaking-agent
BASE_IMAGE=localhost/turntaking-base:bookworm
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The host's CA bundle is handed to pip in the build as a secret, so a TLS-inspecting proxy
# the host trusts is trusted there too; set BUILD_CA_BUNDLE= (empty) to not pass one.
CA_BUNDLE=${BUILD_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
# What `start` needs; the no-settings check expects each name in the error line.
START_VARS=(LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET DEEPGRAM_API_KEY OPENAI_API_KEY)
PLUGIN_DIST=livekit-plugins-turntaking

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() {
    echo "error: $*" >&2
    exit 1
}

rebuild_base=0
for arg in "$@"; do
    case $arg in
        --rebuild-base) rebuild_base=1 ;;
        -h | --help) usage && exit 0 ;;
        *) echo "error: unknown option $arg (options: --rebuild-base, --help)" >&2 && exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || die "run as root: the build uses rootful podman and debootstrap"

ensure_tools() {
    local missing=() tool
    for tool in podman buildah runc debootstrap; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "== installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap
    fi
}

# The base: what Debian's slim images leave out (docs but copyright files, man pages,
# locales, package lists) is left out here too, also for packages installed on top later.
build_base() {
    local rootfs
    rootfs=$(mktemp -d /var/tmp/turntaking-rootfs.XXXXXX)
    # shellcheck disable=SC2064 # expand now: the trap must remove this very folder
    trap "rm -rf '$rootfs'" EXIT
    echo "== debootstrap $SUITE (minbase) from $MIRROR"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 ||
        { tail -n 20 "$rootfs.log" >&2 && die "debootstrap failed (log: $rootfs.log)"; }
    rm -f "$rootfs.log"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/01-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
    chroot "$rootfs" apt-get clean
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "$rootfs"/usr/share/{man,info,groff,lintian}/* "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/* \
        "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
    echo "== importing $BASE_IMAGE"
    tar -C "$rootfs" --numeric-owner -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
}

ensure_tools
if ((rebuild_base)) || ! podman image exists "$BASE_IMAGE"; then
    SECONDS=0
    build_base
    echo "base built in ${SECONDS}s"
else
    echo "== reusing $BASE_IMAGE (--rebuild-base to build it again)"
fi

secret=()
if [[ -n $CA_BUNDLE ]]; then
    [[ -s $CA_BUNDLE ]] || die "BUILD_CA_BUNDLE=$CA_BUNDLE is not a readable file"
    secret=(--secret "id=pip_ca,src=$CA_BUNDLE")
fi
echo "== building $IMAGE on $BASE_IMAGE"
SECONDS=0
podman build --isolation=chroot --build-arg "BASE=$BASE_IMAGE" "${secret[@]}" -t "$IMAGE" .
build_s=$SECONDS

# The checks: each prints what it saw; a failure is counted, the others still run.
failed=0
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
# Both limits are set: podman's rootful default process limit is higher than a runtime
# without CAP_SYS_RESOURCE may set, and then no container starts at all.
run() {
    podman run --rm --runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
        --network none "$IMAGE" "$@"
}

echo "== checks"
echo "-- no settings: podman run $IMAGE"
rc=0 && out=$(run 2>&1) || rc=$?
printf '%s\n' "$out"
echo "exit code: $rc"
lines=$(grep -c . <<<"$out" || true)
[[ $rc == 2 ]] || fail "no settings: exit code $rc, expected 2"
[[ $lines == 1 ]] || fail "no settings: $lines lines of output, expected 1"
for var in "${START_VARS[@]}"; do
    [[ $out == *"$var"* ]] || fail "no settings: the error line does not name $var"
done

echo "-- user: podman run $IMAGE id"
rc=0 && out=$(run id 2>&1) || rc=$?
printf '%s\n' "$out"
[[ $rc == 0 && $out == uid=10001\(* ]] || fail "user: expected uid=10001, got exit $rc"

echo "-- help: podman run $IMAGE python agent.py --help"
rc=0 && out=$(run python agent.py --help 2>&1) || rc=$?
printf '%s\n' "$out"
echo "exit code: $rc"
[[ $rc == 0 ]] || fail "help: exit code $rc, expected 0"

echo "-- app files: ls -A /app"
rc=0 && out=$(run ls -A /app 2>&1) || rc=$?
printf '%s\n' "$out" | paste -sd ' '
[[ $rc == 0 && $(paste -sd ' ' <<<"$out") == "agent.py prompts worker" ]] ||
    fail "app files: expected agent.py prompts worker"

echo "-- venv: pip list against requirements/runtime.lock"
# Names compared in their normalised form (PEP 503), versions as written.
norm() { awk -F'==' '{ n = tolower($1); gsub(/[-_.]+/, "-", n); print n "==" $2 }'; }
rc=0 && installed=$(run python -m pip list --format=freeze --disable-pip-version-check 2>&1) ||
    rc=$?
if [[ $rc != 0 ]]; then
    printf '%s\n' "$installed"
    fail "venv: pip list exited $rc"
else
    locked=$(grep -oE '^[A-Za-z0-9][A-Za-z0-9._-]*==[^ ;\\]+' requirements/runtime.lock |
        norm | sort)
    # pip and setuptools come with every venv; the plugin is installed from its folder.
    image=$(norm <<<"$installed" | grep -vE "^(pip|setuptools|$PLUGIN_DIST)==" | sort)
    extra=$(comm -13 <(printf '%s\n' "$locked") <(printf '%s\n' "$image"))
    absent=$(comm -23 <(printf '%s\n' "$locked") <(printf '%s\n' "$image"))
    echo "$(grep -c . <<<"$image") locked distributions, plus:" \
        "$(grep -E "^(pip|setuptools|$PLUGIN_DIST)==" <<<"$installed" | paste -sd ' ')"
    [[ -z $extra ]] || fail "venv: not in runtime.lock (or another version): $(paste -sd ' ' <<<"$extra")"
    [[ -z $absent ]] || fail "venv: in runtime.lock but not installed: $(paste -sd ' ' <<<"$absent")"
    grep -qE "^$PLUGIN_DIST==" <<<"$installed" || fail "venv: $PLUGIN_DIST is not installed"
fi

echo "-- models: the worker's modules import and every model loads (no network)"
rc=0 && out=$(run python -c '
import sys
import agent  # noqa: F401  (what the start mode imports)
from livekit.plugins import deepgram, openai, silero  # noqa: F401  (imported per session)
from livekit.plugins.turntaking import load_models
models = load_models()
print("problems:", list(models.problems) or "none")
sys.exit(1 if models.problems else 0)
' 2>&1) || rc=$?
printf '%s\n' "$out"
[[ $rc == 0 ]] || fail "models: exit code $rc"

size_b=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "-- size: $((size_b / 1000000)) MB ($size_b bytes)"
echo "build: ${build_s}s"
if ((failed)); then
    echo "$failed check(s) failed"
    exit 1
fi
echo "all checks passed"
