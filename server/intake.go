package server

// intakeRoutes are the public routes: the form, the captcha, submission and
// email verification.
func (s *Server) intakeRoutes() {}
