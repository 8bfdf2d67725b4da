ls -l /bin/mmkit* 2>&1
