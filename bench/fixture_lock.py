#!/usr/bin/env python3
"""images.lock helpers for scripts/bench.sh.

The committed images.lock is made at fixture scale 0.01; a benchmark at another scale has other
digests, so it writes its own with `sealift-bundle lock`. What that command cannot write is the
lock of the next release, whose backend tag (1.1.0) the chart does not name; that is what
`relock` is for, as tests/env/fixture_lock.cc's relock_image does for the tests.

  fixture_lock.py images LOCK
      one line per locked image: NAME REPOSITORY TAG DIGEST, the repository and tag as the
      fixture registry (which mirrors every upstream registry under the same paths) serves them
  fixture_lock.py relock LOCK SUMMARY
      prints LOCK with every image the fixture generator's --json SUMMARY names replaced by that
      image (source, digest, media type, platforms); name, component and values paths stay
"""
import json
import sys

import yaml


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def split_source(source):
    """docker.io/library/postgres:16.4 -> (library/postgres, 16.4)"""
    path = source.split("/", 1)[1]
    repository, _, tag = path.rpartition(":")
    return repository, tag


def images_command(lock_path):
    for image in load(lock_path)["images"]:
        repository, tag = split_source(image["source"])
        print(image["name"], repository, tag, image["digest"])


def relock_command(lock_path, summary_path):
    lock = load(lock_path)
    with open(summary_path) as f:
        fixtures = {img["name"]: img for img in json.load(f)["images"]}
    for image in lock["images"]:
        fixture = fixtures.get(image["name"])
        if fixture is None:
            continue
        # The summary writes "linux/arm64" where the index says variant v8: keep what the lock
        # (read from the index by sealift) had for that os and architecture.
        variants = {(p["os"], p["architecture"]): p.get("variant") for p in image["platforms"]}
        platforms = []
        for m in fixture["manifests"]:
            os_, arch = m["platform"].split("/")[:2]
            p = {"os": os_, "architecture": arch}
            if variants.get((os_, arch)):
                p["variant"] = variants[(os_, arch)]
            p["digest"] = m["digest"]
            p["size"] = m["size"]
            platforms.append(p)
        image.update(source=fixture["source"], digest=fixture["digest"], mediaType=fixture["mediaType"],
                     platforms=platforms)
    sys.stdout.write(yaml.safe_dump(lock, sort_keys=False, default_flow_style=False))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "images":
        images_command(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "relock":
        relock_command(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
