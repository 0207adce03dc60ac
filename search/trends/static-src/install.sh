#!/bin/sh
# Install the analyst console's front-end assets from the npm registry (pinned in package-lock.json)
# and copy them where the application serves them (/static/search.trends/vendor/). No CDN.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
mkdir -p ../static/vendor
cp node_modules/echarts/dist/echarts.min.js ../static/vendor/echarts.min.js
cp node_modules/echarts/LICENSE ../static/vendor/ECHARTS-LICENSE.txt
echo "echarts $(node -p "require('./node_modules/echarts/package.json').version") -> search/trends/static/vendor/echarts.min.js"
