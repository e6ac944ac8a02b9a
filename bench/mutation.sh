#!/usr/bin/env bash
# Mutation testing with cosmic-ray, one module at a time (docs/testing.md, "Mutation testing").
#
#   bench/mutation.sh protocol            # run bench/mutation/protocol.toml, print the survivors
#   bench/mutation.sh protocol --report   # print the report of the last run again
#   bench/mutation.sh protocol --retry    # rerun only the survivors, with the tests as they are now
#   bench/mutation.sh --list              # the modules that have a config
#   MUTATION_SAMPLE=80 bench/mutation.sh node_app   # only 80 mutants drawn at random (an estimate)
#
# The run happens in a copy of this working tree (bench/build/mutation/tree-NAME, with your
# uncommitted changes), so you can keep editing while it goes. In that copy cosmic-ray mutates
# the module's source file IN PLACE, one mutant at a time, and PYTHONPATH points at the copy, so
# tests that start `labnode` subprocesses or real servers run the mutant too.
# Needs the mutation extra: pip install -e '.[mutation]'
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [[ $# -eq 0 || "$1" == "--list" ]]; then
    ls bench/mutation/*.toml | sed 's#bench/mutation/##; s#\.toml$##'
    exit 0
fi
name=$1
config=bench/mutation/$name.toml
session=$root/bench/build/mutation/$name.sqlite
if [[ ! -f $config ]]; then
    echo "no config $config; bench/mutation.sh --list shows the modules" >&2
    exit 2
fi

report() {
    cr-report "$session" | tail -n 3
    python3 "$root/bench/mutation_survivors.py" "$session"
}
if [[ "${2:-}" == "--report" ]]; then
    report
    exit 0
fi

tree=$root/bench/build/mutation/tree-$name
module=$(sed -n 's/^module-path = "\(.*\)"$/\1/p' "$config")
copy_tree() {
    # the tracked and new (not ignored) files, as they are on disk now
    git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tree"
}
if [[ "${2:-}" == "--retry" ]]; then
    # the mutants' positions are those of the module when the session began: it must not change
    if [[ ! -f $session ]] || ! git diff --no-index --quiet "$tree/$module" "$module"; then
        echo "no session for $name, or $module changed since it began: run without --retry" >&2
        exit 2
    fi
    copy_tree
    sqlite3_reset="DELETE FROM work_results WHERE lower(test_outcome) = 'survived'"
    python3 -c "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute(sys.argv[2]); db.commit()" \
        "$session" "$sqlite3_reset"
    cd "$tree"
    export PYTHONPATH=$tree${PYTHONPATH:+:$PYTHONPATH}
else
    rm -rf "$tree" "$session"
    mkdir -p "$tree"
    copy_tree
    cd "$tree"
    export PYTHONPATH=$tree${PYTHONPATH:+:$PYTHONPATH}
    cosmic-ray init "$config" "$session"
    python3 bench/mutation_filter.py "$session" ${MUTATION_SAMPLE:+--sample "$MUTATION_SAMPLE"}
fi
cosmic-ray --verbosity ERROR baseline "$config"
cosmic-ray --verbosity ERROR exec "$config" "$session"
report
