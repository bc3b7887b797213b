/* Removes a test's directory tree (files first), ignoring what is already
 * gone: the tests' one way to clean up after themselves. */
#ifndef KITH_TESTS_UNIT_RM_TREE_H
#define KITH_TESTS_UNIT_RM_TREE_H

#include <ftw.h>
#include <stdio.h>

static int rm_tree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static inline void rm_tree(const char *root)
{
	nftw(root, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
