#!/bin/sh
# Keep the Docker images a harness test run needs in a folder that CI caches between runs:
#   sh scripts/ci-images.sh load DIR   # before the tests: load what an earlier run saved
#   sh scripts/ci-images.sh save DIR   # after them: save what changed since (a no-op if nothing)
# The images: LocalStack, harness's training/serving image for this checkout and the `tests`
# service's image. POSIX sh and python3 (standard library only): it runs on Ubuntu runners and
# in docker:* images (Alpine, with `apk add python3`).
set -eu
harness=$(cd "$(dirname "$0")/.." && pwd)
action=${1:?usage: ci-images.sh load|save DIR}
dir=${2:?usage: ci-images.sh load|save DIR}
tar="$dir/images.tar"
stamp="$dir/images.ids"

images() {  # those of them that are there now
    train=$(PYTHONPATH="$harness" python3 -c \
        'from harness.containers.image import default_image; print(default_image())')
    for image in localstack/localstack:4.14.0 "$train" harness-tests:latest; do
        if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; fi
    done
}

ids() {
    for image in $(images); do
        echo "$image $(docker image inspect -f '{{.Id}}' "$image")"
    done
}

case "$action" in
load)
    if [ -f "$tar" ]; then
        docker load -i "$tar"
    else
        echo "ci-images: no $tar yet (a first run builds the images)"
    fi
    ;;
save)
    mkdir -p "$dir"
    if [ -f "$stamp" ] && [ "$(ids)" = "$(cat "$stamp")" ]; then
        echo "ci-images: images unchanged, $tar kept"
    elif [ -n "$(images)" ]; then
        # shellcheck disable=SC2046 # one argument per image name
        docker save -o "$tar.part" $(images)
        mv "$tar.part" "$tar"
        ids > "$stamp"
        echo "ci-images: saved $(images | tr '\n' ' ')to $tar"
    fi
    ;;
*)
    echo "usage: ci-images.sh load|save DIR" >&2
    exit 2
    ;;
esac
