// Live features of the newsroom pages.
