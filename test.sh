#!/usr/bin/env bash
# Runs every test: builds the solution, runs the xunit suites, packs the Ferrum package and builds and runs a
# consumer project (package-smoke/) against it. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")"
config=${CONFIGURATION:-Release}
results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"

echo "== build"
dotnet build Ferrum.sln -c "$config" -nologo -v q

echo "== unit tests"
status=0
dotnet test Ferrum.sln -c "$config" --no-build -nologo --logger "trx" --results-directory "$results" || status=$?

echo "== package smoke test"
rm -rf artifacts/packages package-smoke/obj package-smoke/bin
dotnet pack src/Ferrum.Runtime/Ferrum.Runtime.csproj -c "$config" --no-build -o artifacts/packages -nologo -v q
version=$(sed -n 's#.*<Version>\(.*\)</Version>.*#\1#p' Directory.Build.props | head -n1)
smoke_out=$(dotnet run --project package-smoke/PackageSmoke.csproj -c "$config" -p:FerrumVersion="$version" 2>&1) || { echo "$smoke_out"; exit 1; }
echo "$smoke_out"
smoke_passed=0
# The expected numbers follow from package-smoke/kernels.yaml and ggml's Q4_K block (256 elements in 144 bytes).
# The README's "Use it in your project" example must be package-smoke/Example.cs, verbatim.
readme_example=$(awk '/<!-- example:begin -->/{f=1;next}/<!-- example:end -->/{f=0}f' README.md | sed '1d;$d')
if [ "$readme_example" != "$(cat package-smoke/Example.cs)" ]; then
  echo "package smoke test: README example differs from package-smoke/Example.cs"
  status=1
elif grep -q "model tiny-moe: hidden 512, expert_ffn 256, experts 16, top_k 4" <<<"$smoke_out" \
   && grep -q "gate row bytes (q4_K): 288" <<<"$smoke_out" \
   && grep -q "layer 0: gate Q4_K, down Q6_K, 16 experts on cpu" <<<"$smoke_out" \
   && grep -q "output: 1024 floats, all finite: True, non-zero: True" <<<"$smoke_out"; then
  smoke_passed=1
else
  echo "package smoke test: unexpected output"
  status=1
fi

# One summary line over every suite (the trx files) plus the smoke test.
count() { cat "$results"/*.trx | grep -o "<Counters [^>]*" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' | awk '{s+=$1} END {print s+0}'; }
passed=$(count passed)
failed=$(( $(count failed) + $(count error) + $(count aborted) + $(count timeout) ))
skipped=$(count notExecuted)
passed=$((passed + smoke_passed))
failed=$((failed + 1 - smoke_passed))
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests count as failures here"
  status=1
fi
exit $status
