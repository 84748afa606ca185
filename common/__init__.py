"""The bottom layer every stage may import and that imports no stage.

``files`` (hashes, atomic writes, staging folders, the run lock, input discovery), ``progress`` (progress
bars), ``layout`` (the run's path names, the phases and curriculum orders, the manifest), ``errors`` (the
user-facing error base the CLI catches), ``freshness`` (what each stage read, and refusing stale inputs),
``logs`` (logging configured once), ``sources`` (the offline text sources: the HTB treebank and its split,
scripture, English prose), ``text`` (shared text constants). Standard library and pyarrow only: no torch,
no datatrove, no stage.
"""
