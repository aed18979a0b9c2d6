package tf

// StateOnly is p reduced to what destroying its state needs: none of the
// tenant's resources, variables or functions. When the original
// configuration uses AWS it keeps one harmless aws data source, so that the
// engine renders and init installs the aws provider (with region, tags and
// the run's credentials) that the state's resources need to be destroyed. The reconciler destroys with it when the
// tenant's configuration no longer passes the policy, so that a refused
// spec never blocks deletion and is never run.
func StateOnly(p Project) Project {
	main := "# The tenant configuration was withheld (policy violation): destroying from state.\n"
	if analyze(p.Files).usesAWS {
		main += "data \"aws_region\" \"current\" {}\n"
	}
	p.Files = map[string]string{"main.tf": main}
	p.Variables = nil
	return p
}
