"""Reader studies: protocol, design, blinded packages, answer store and analysis (NetZeroAICT.study.analysis)."""
