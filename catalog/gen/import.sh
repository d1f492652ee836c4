#!/usr/bin/env bash
# Refreshes catalog/gen/sources from upstream files: edit the paths and origins, run
# from the repository root, then `make catalog` and review the diff. See
# catalog/gen/sources/README.md for where each file comes from.
set -euo pipefail
MOTO=${MOTO:-$(python3 -c 'import moto, os; print(os.path.join(os.path.dirname(moto.__file__), "ec2", "resources"))')}
MOTO_VERSION=${MOTO_VERSION:-$(python3 -c 'import moto; print(moto.__version__)')}
UP=${UP:?set UP to a directory holding gcp/machinetyperegion.csv, gcp/zones.csv, azure_instance_types.go, locations.json}
go run ./catalog/gen -import -date "${DATE:-$(date -u +%F)}" \
  -moto "$MOTO" -moto-origin "moto $MOTO_VERSION (PyPI, https://github.com/getmoto/moto/tree/$MOTO_VERSION/moto/ec2/resources)" \
  -gcp "$UP/gcp" -gcp-origin "${GCP_ORIGIN:?}" \
  -azure-types "$UP/azure_instance_types.go" -azure-types-origin "${AZURE_TYPES_ORIGIN:?}" \
  -azure-locations "$UP/locations.json" -azure-locations-origin "${AZURE_LOCATIONS_ORIGIN:?}"
