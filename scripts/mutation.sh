#!/usr/bin/env bash
# Mutation testing (make mutation): runs gremlins on each package of .mutation-floors,
# prints a table of kill rate (efficacy: killed / (killed + lived)) and mutant coverage
# per package, lists the mutants that lived, and exits 1 when a package is below its
# floor.
#
#   scripts/mutation.sh                      every package of .mutation-floors
#   scripts/mutation.sh ./approval ./secrets only these (each must have a floor)
#   MUTATION_BASE=origin/main scripts/mutation.sh
#                                            only the packages of .mutation-floors with
#                                            Go files changed since MUTATION_BASE
#
# Environment: GREMLINS (the binary; make mutation installs it), MUTATION_WORKERS (parallel
# mutants, default 1), MUTATION_TIMEOUT_COEFFICIENT (a mutant's test run may take this
# many times the coverage run, default 10), MUTATION_OUT (JSON reports and logs; default
# a temporary directory).
#
# gremlins copies the whole module once per worker, so it runs on a copy holding only
# the files git knows (tracked or not ignored): no bin/, .data/ or node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

gremlins=${GREMLINS:-$root/bin/gremlins-v0.6.0/gremlins}
workers=${MUTATION_WORKERS:-1}
coefficient=${MUTATION_TIMEOUT_COEFFICIENT:-10}
floors_file=$root/.mutation-floors

declare -A floor only
order=()
while read -r pkg min files _; do
	[[ -z $pkg || $pkg == \#* ]] && continue
	floor[$pkg]=$min
	only[$pkg]=${files#only=}
	order+=("$pkg")
done <"$floors_file"

norm() { # ./a/b/ and a/b are the same package
	local p=${1%/}
	p=${p#./}
	echo "./$p"
}

pkgs=()
if (($# > 0)); then
	for p in "$@"; do
		p=$(norm "$p")
		[[ -n ${floor[$p]:-} ]] || { echo "mutation: $p has no floor in .mutation-floors" >&2; exit 2; }
		pkgs+=("$p")
	done
elif [[ -n ${MUTATION_BASE:-} ]]; then
	changed=$(git diff --name-only "$MUTATION_BASE" -- '*.go')
	for p in "${order[@]}"; do
		dir=${p#./}
		if grep -q "^$dir/[^/]*\.go$" <<<"$changed"; then
			pkgs+=("$p")
		fi
	done
	if ((${#pkgs[@]} == 0)); then
		echo "mutation: no package with a floor changed since $MUTATION_BASE"
		exit 0
	fi
	echo "mutation: packages changed since $MUTATION_BASE: ${pkgs[*]}"
else
	pkgs=("${order[@]}")
fi

out=${MUTATION_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/astro-mutation.XXXXXX")}
mkdir -p "$out"
snap=$(mktemp -d "${TMPDIR:-/tmp}/astro-mutation-src.XXXXXX")
trap 'rm -rf "$snap"' EXIT
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [[ -f $f ]] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$snap"

num() { # a top-level number of gremlins' one-line JSON report
	grep -o "\"$1\":[0-9.eE+-]*" "$2" | head -1 | cut -d: -f2
}

rows=()
failed=0
start=$SECONDS
for p in "${pkgs[@]}"; do
	name=${p#./}
	name=${name//\//_}
	json=$out/$name.json
	log=$out/$name.log
	t0=$SECONDS
	echo "mutation: $p (floor ${floor[$p]}%)…"
	rm -f "$json"
	# only=REGEXP in .mutation-floors: mutate only the package's files whose name
	# matches; gremlins takes the others as exclusions.
	exclude=()
	if [[ -n ${only[$p]} ]]; then
		for f in "$snap/${p#./}"/*.go; do
			f=${f##*/}
			[[ $f == *_test.go ]] && continue
			grep -Eq "${only[$p]}" <<<"$f" || exclude+=(--exclude-files "^$f\$")
		done
	fi
	# gremlins exits non-zero only on its own thresholds, which are not set here.
	if ! "$gremlins" unleash --workers "$workers" "${exclude[@]}" \
		--timeout-coefficient "$coefficient" --output "$json" "$snap/${p#./}" >"$log" 2>&1 || [[ ! -s $json ]]; then
		echo "mutation: gremlins failed on $p; its log:" >&2
		cat "$log" >&2
		rows+=("$(printf '%-22s %8s %8s %7s %7s %8s %8s  %s' "$p" "-" "-" "-" "-" "-" "${floor[$p]}%" "ERROR")")
		failed=1
		continue
	fi
	eff=$(num test_efficacy "$json")
	cov=$(num mutations_coverage "$json")
	killed=$(num mutants_killed "$json")
	lived=$(num mutants_lived "$json")
	notcov=$(num mutants_not_covered "$json")
	verdict=ok
	if awk -v e="$eff" -v f="${floor[$p]}" 'BEGIN { exit !(e + 0 < f + 0) }'; then
		verdict="BELOW FLOOR"
		failed=1
	fi
	# The mutants that lived, as gremlins logged them (colours stripped).
	sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ *LIVED ' | sed "s|^ *\(.* at \)|    \1${p#./}/|" || true
	rows+=("$(printf '%-22s %7.2f%% %7.2f%% %7s %7s %8s %7s%%  %s (%ss)' "$p" "$eff" "$cov" "$killed" "$lived" "$notcov" "${floor[$p]}" "$verdict" $((SECONDS - t0)))")
done

echo
printf '%-22s %8s %8s %7s %7s %8s %8s  %s\n' package "kill" coverage killed lived "not cov" floor verdict
for r in "${rows[@]}"; do echo "$r"; done
echo "mutation: ${#pkgs[@]} package(s) in $((SECONDS - start))s; reports and logs in $out"
if ((failed)); then
	echo "mutation: a package is below its floor (or gremlins failed): kill its LIVED mutants with tests" >&2
	exit 1
fi
