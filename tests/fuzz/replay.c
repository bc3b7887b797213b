/* A main() for builds without libFuzzer: runs LLVMFuzzerTestOneInput()
 * over every file named on the command line and every regular file in the
 * directories named there, so that ctest replays the seed corpus (and any
 * crash input kept as a regression test) through each target.
 *
 * Exit status: 0 when every input ran, 1 when a path could not be read or
 * no input was found at all (a replay of nothing proves nothing). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads path into a buffer of exactly its size, so that the sanitizers see
 * any read past the end of the input. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;
	int rc = -1;
	if (!f)
		goto cleanup;
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto cleanup;
	data = malloc(size ? (size_t)size : 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
		goto cleanup;
	LLVMFuzzerTestOneInput(data, (size_t)size);
	rc = 0;
cleanup:
	if (rc)
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno ? errno : EIO));
	free(data);
	if (f)
		fclose(f);
	return rc;
}

/* Replays the regular files directly inside dir; returns how many, or -1. */
static long replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path)) {
			n = -1;
			break;
		}
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	long total = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) ? -1 : 1);
		if (n < 0)
			return 1;
		printf("replay: %s: %ld inputs\n", argv[i], n);
		total += n;
	}
	printf("replay: %ld inputs in all\n", total);
	if (total == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	return 0;
}
