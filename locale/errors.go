package locale

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/text/message"
)

// errorTexts translates the validation messages the API gives in English
// (field errors of the form and the portal), keyed by that English text, so
// the API keeps one vocabulary and the pages show the requester's language.
var errorTexts = map[string][3]string{
	"enter your first name":                        {"Bitte geben Sie Ihren Vornamen ein", "veuillez saisir votre prénom", "introduzca su nombre"},
	"enter your last name":                         {"Bitte geben Sie Ihren Nachnamen ein", "veuillez saisir votre nom", "introduzca sus apellidos"},
	"enter your email address":                     {"Bitte geben Sie Ihre E-Mail-Adresse ein", "veuillez saisir votre adresse e-mail", "introduzca su dirección de correo electrónico"},
	"enter a description of your request":          {"Bitte beschreiben Sie Ihre Anfrage", "veuillez décrire votre demande", "describa su solicitud"},
	"is not valid text":                            {"ist kein gültiger Text", "n'est pas un texte valide", "no es un texto válido"},
	"must be a single line of text":                {"darf nur eine Zeile Text enthalten", "doit tenir sur une seule ligne", "debe ser una sola línea de texto"},
	"enter an email address like name@example.com": {"Bitte geben Sie eine E-Mail-Adresse wie name@example.com ein", "veuillez saisir une adresse e-mail du type nom@example.com", "introduzca una dirección de correo electrónico como nombre@example.com"},
	"holds characters that are not text":           {"enthält Zeichen, die kein Text sind", "contient des caractères qui ne sont pas du texte", "contiene caracteres que no son texto"},
	"choose your country of residence":             {"Bitte wählen Sie Ihr Wohnsitzland", "veuillez choisir votre pays de résidence", "elija su país de residencia"},
	"is not an ISO 3166-1 country code":            {"ist kein Ländercode nach ISO 3166-1", "n'est pas un code pays ISO 3166-1", "no es un código de país ISO 3166-1"},
	"is not a subdivision of the chosen country (ISO 3166-2, like US-CA)": {"ist kein Landesteil des gewählten Landes (ISO 3166-2, z. B. US-CA)",
		"n'est pas une subdivision du pays choisi (ISO 3166-2, par exemple US-CA)", "no es una subdivisión del país elegido (ISO 3166-2, como US-CA)"},
	"choose customer, employee or other":      {"Bitte wählen Sie Kunde/Kundin, Mitarbeiter/Mitarbeiterin oder Sonstiges", "veuillez choisir client(e), salarié(e) ou autre", "elija cliente, empleado/a u otro"},
	"choose the type of request":              {"Bitte wählen Sie die Art der Anfrage", "veuillez choisir le type de demande", "elija el tipo de solicitud"},
	"solve the captcha (it needs JavaScript)": {"Bitte lösen Sie die Spam-Schutzprüfung (sie benötigt JavaScript)", "veuillez résoudre la vérification anti-spam (elle nécessite JavaScript)", "resuelva la comprobación antispam (necesita JavaScript)"},
	"this captcha was already used; solve a new one": {"Diese Spam-Schutzprüfung wurde bereits verwendet; bitte lösen Sie eine neue",
		"cette vérification anti-spam a déjà été utilisée ; veuillez en résoudre une nouvelle", "esta comprobación antispam ya se ha utilizado; resuelva una nueva"},
	"attach a photo or scan of an identity document (JPEG, PNG or PDF)": {"Bitte fügen Sie ein Foto oder einen Scan eines Ausweisdokuments bei (JPEG, PNG oder PDF)",
		"veuillez joindre une photo ou un scan d'une pièce d'identité (JPEG, PNG ou PDF)", "adjunte una foto o un escaneo de un documento de identidad (JPEG, PNG o PDF)"},
	// The portal's notices and errors (server/portal.go, portal_signin.go,
	// withdraw.go, messages.go), shown on its pages through tr.
	"Please correct the fields marked below.": {"Bitte korrigieren Sie die unten markierten Felder.", "Veuillez corriger les champs signalés ci-dessous.", "Corrija los campos marcados a continuación."},
	"Something went wrong on our side. Please try again in a moment.": {"Bei uns ist ein Fehler aufgetreten. Bitte versuchen Sie es in einem Moment erneut.",
		"Une erreur s'est produite de notre côté. Veuillez réessayer dans un instant.", "Se ha producido un error por nuestra parte. Vuelva a intentarlo en unos momentos."},
	"You have logged out.": {"Sie haben sich abgemeldet.", "Vous êtes déconnecté(e).", "Ha cerrado la sesión."},
	"This link is not valid. Check that you copied the whole address from the email.": {"Dieser Link ist ungültig. Bitte prüfen Sie, ob Sie die vollständige Adresse aus der E-Mail kopiert haben.",
		"Ce lien n'est pas valide. Vérifiez que vous avez copié l'adresse complète figurant dans l'e-mail.", "Este enlace no es válido. Compruebe que ha copiado la dirección completa del correo electrónico."},
	"This link has expired or has already been used. If you already set a password, log in.": {"Dieser Link ist abgelaufen oder wurde bereits verwendet. Falls Sie bereits ein Passwort festgelegt haben, melden Sie sich an.",
		"Ce lien a expiré ou a déjà été utilisé. Si vous avez déjà défini un mot de passe, connectez-vous.", "Este enlace ha caducado o ya se ha utilizado. Si ya ha establecido una contraseña, inicie sesión."},
	"This sign-in link is not valid. Check that you opened the whole link from the email, or ask for a new one below.": {"Dieser Anmeldelink ist ungültig. Bitte prüfen Sie, ob Sie den vollständigen Link aus der E-Mail geöffnet haben, oder fordern Sie unten einen neuen an.",
		"Ce lien de connexion n'est pas valide. Vérifiez que vous avez ouvert le lien complet figurant dans l'e-mail, ou demandez-en un nouveau ci-dessous.",
		"Este enlace de inicio de sesión no es válido. Compruebe que ha abierto el enlace completo del correo electrónico o solicite uno nuevo a continuación."},
	"This sign-in link has expired or has already been used. Ask for a new one below.": {"Dieser Anmeldelink ist abgelaufen oder wurde bereits verwendet. Fordern Sie unten einen neuen an.",
		"Ce lien de connexion a expiré ou a déjà été utilisé. Demandez-en un nouveau ci-dessous.", "Este enlace de inicio de sesión ha caducado o ya se ha utilizado. Solicite uno nuevo a continuación."},
	"Your request is withdrawn. If you had confirmed your email address, we have also sent you a confirmation there.": {
		"Ihre Anfrage ist zurückgezogen. Falls Sie Ihre E-Mail-Adresse bestätigt hatten, haben wir Ihnen auch dorthin eine Bestätigung gesendet.",
		"Votre demande est retirée. Si vous aviez confirmé votre adresse e-mail, nous vous y avons également envoyé une confirmation.",
		"Su solicitud se ha retirado. Si había confirmado su dirección de correo electrónico, también le hemos enviado allí una confirmación."},
	"Your appeal is filed. We will write to you with our decision.": {"Ihr Widerspruch ist eingelegt. Wir schreiben Ihnen unsere Entscheidung.",
		"Votre appel est enregistré. Nous vous écrirons pour vous communiquer notre décision.", "Su recurso se ha presentado. Le escribiremos con nuestra decisión."},
	"say why you appeal the decision": {"Bitte begründen Sie Ihren Widerspruch", "veuillez indiquer pourquoi vous faites appel", "indique por qué recurre la decisión"},
	"Your message has been sent.":     {"Ihre Nachricht wurde gesendet.", "Votre message a été envoyé.", "Su mensaje se ha enviado."},
	"You":                             {"Sie", "Vous", "Usted"},
	"Privacy team":                    {"Datenschutzteam", "Équipe chargée de la protection des données", "Equipo de privacidad"},
	"the email address or the password is wrong": {"Die E-Mail-Adresse oder das Passwort ist falsch.", "L'adresse e-mail ou le mot de passe est incorrect.", "La dirección de correo electrónico o la contraseña no son correctas."},
	"too many attempts; try again later":         {"Zu viele Versuche; bitte versuchen Sie es später erneut.", "Trop de tentatives ; veuillez réessayer plus tard.", "Demasiados intentos; vuelva a intentarlo más tarde."},
	"is required":                                {"ist erforderlich", "est obligatoire", "es obligatorio"},
	"must be at least 8 characters":              {"muss mindestens 8 Zeichen lang sein", "doit comporter au moins 8 caractères", "debe tener al menos 8 caracteres"},
	"does not match the password":                {"stimmt nicht mit dem Passwort überein", "ne correspond pas au mot de passe", "no coincide con la contraseña"},
	"tick the box to confirm that you want to withdraw the request": {"Bitte setzen Sie das Häkchen, um zu bestätigen, dass Sie die Anfrage zurückziehen möchten",
		"cochez la case pour confirmer que vous souhaitez retirer la demande", "marque la casilla para confirmar que desea retirar la solicitud"},
	"must be UTF-8 text":                            {"muss UTF-8-Text sein", "doit être un texte UTF-8", "debe ser texto UTF-8"},
	"must not be empty":                             {"darf nicht leer sein", "ne doit pas être vide", "no puede estar vacío"},
	"a file is empty":                               {"eine Datei ist leer", "un fichier est vide", "un archivo está vacío"},
	"an attachment is too large":                    {"Ein Anhang ist zu groß.", "Une pièce jointe est trop volumineuse.", "Un archivo adjunto es demasiado grande."},
	"an attachment cannot be read":                  {"Ein Anhang kann nicht gelesen werden.", "Une pièce jointe ne peut pas être lue.", "No se puede leer un archivo adjunto."},
	"an attachment has a type that is not accepted": {"Ein Anhang hat einen nicht zulässigen Dateityp.", "Une pièce jointe est d'un type non accepté.", "Un archivo adjunto tiene un tipo no admitido."},
	// Captcha (server/captcha.go, logins.go, intake.go).
	"solve the captcha":         {"Bitte lösen Sie die Spam-Schutzprüfung", "veuillez résoudre la vérification anti-spam", "resuelva la comprobación antispam"},
	"is not a captcha solution": {"ist keine Lösung der Spam-Schutzprüfung", "n'est pas une solution de la vérification anti-spam", "no es una solución de la comprobación antispam"},
	"the captcha expired; solve a new one": {"Die Spam-Schutzprüfung ist abgelaufen; bitte lösen Sie eine neue",
		"la vérification anti-spam a expiré ; veuillez en résoudre une nouvelle", "la comprobación antispam ha caducado; resuelva una nueva"},
	"the captcha solution is wrong; solve it again": {"Die Lösung der Spam-Schutzprüfung ist falsch; bitte lösen Sie sie erneut",
		"la solution de la vérification anti-spam est incorrecte ; veuillez la résoudre à nouveau", "la solución de la comprobación antispam no es correcta; resuélvala de nuevo"},
	"solve the captcha; it must come before identity_document in the form": {"Bitte lösen Sie die Spam-Schutzprüfung; sie muss im Formular vor identity_document stehen",
		"veuillez résoudre la vérification anti-spam ; elle doit précéder identity_document dans le formulaire",
		"resuelva la comprobación antispam; debe ir antes de identity_document en el formulario"},
	"this account has had many failed sign-ins: solve the captcha and try again": {
		"Für dieses Konto gab es viele fehlgeschlagene Anmeldeversuche: Bitte lösen Sie die Spam-Schutzprüfung und versuchen Sie es erneut.",
		"Ce compte a fait l'objet de nombreuses tentatives de connexion infructueuses : veuillez résoudre la vérification anti-spam et réessayer.",
		"Esta cuenta ha tenido muchos intentos de inicio de sesión fallidos: resuelva la comprobación antispam y vuelva a intentarlo."},
	"solve the captcha to sign in": {"Bitte lösen Sie die Spam-Schutzprüfung, um sich anzumelden", "veuillez résoudre la vérification anti-spam pour vous connecter",
		"resuelva la comprobación antispam para iniciar sesión"},
	// The identity document (server/upload.go).
	"the file is empty": {"die Datei ist leer", "le fichier est vide", "el archivo está vacío"},
	"the image cannot be read; try another photo or a PDF": {"Das Bild kann nicht gelesen werden; bitte versuchen Sie es mit einem anderen Foto oder einer PDF-Datei",
		"l'image ne peut pas être lue ; veuillez essayer une autre photo ou un PDF", "no se puede leer la imagen; pruebe con otra foto o con un PDF"},
	"the identity document must be a JPEG, PNG or PDF file": {"Das Ausweisdokument muss eine JPEG-, PNG- oder PDF-Datei sein.",
		"La pièce d'identité doit être un fichier JPEG, PNG ou PDF.", "El documento de identidad debe ser un archivo JPEG, PNG o PDF."},
	"must be a JPEG, PNG or PDF file": {"muss eine JPEG-, PNG- oder PDF-Datei sein", "doit être un fichier JPEG, PNG ou PDF", "debe ser un archivo JPEG, PNG o PDF"},
	// The form's submission (server/intake.go) and the intake limits
	// (store/intake.go).
	"send the request as multipart/form-data": {"Bitte senden Sie die Anfrage als multipart/form-data.", "Veuillez envoyer la demande au format multipart/form-data.",
		"Envíe la solicitud como multipart/form-data."},
	"the body is not a valid multipart form": {"Der Inhalt ist kein gültiges Multipart-Formular.", "Le contenu n'est pas un formulaire multipart valide.",
		"El contenido no es un formulario multipart válido."},
	"the service cannot take requests right now; please try again in a few minutes": {"Der Dienst kann derzeit keine Anfragen annehmen. Bitte versuchen Sie es in einigen Minuten erneut.",
		"Le service ne peut pas recevoir de demandes pour le moment. Veuillez réessayer dans quelques minutes.",
		"El servicio no puede recibir solicitudes en este momento. Vuelva a intentarlo dentro de unos minutos."},
	"something went wrong on our side; please try again": {"Bei uns ist ein Fehler aufgetreten. Bitte versuchen Sie es erneut.",
		"Une erreur s'est produite de notre côté. Veuillez réessayer.", "Se ha producido un error por nuestra parte. Vuelva a intentarlo."},
	"unknown token": {"Dieser Link ist ungültig.", "Ce lien n'est pas valide.", "Este enlace no es válido."},
	"this request has ended; please submit a new one": {"Diese Anfrage ist beendet. Bitte stellen Sie eine neue.", "Cette demande est close. Veuillez en soumettre une nouvelle.",
		"Esta solicitud ha finalizado. Envíe una nueva."},
	"we cannot confirm your email right now; please try the link again in a few minutes": {
		"Wir können Ihre E-Mail-Adresse derzeit nicht bestätigen. Bitte öffnen Sie den Link in einigen Minuten erneut.",
		"Nous ne pouvons pas confirmer votre adresse e-mail pour le moment. Veuillez rouvrir le lien dans quelques minutes.",
		"No podemos confirmar su dirección de correo electrónico en este momento. Vuelva a abrir el enlace dentro de unos minutos."},
	"requests from this email address are already waiting for it to be confirmed; confirm them with the link we emailed, or wait until they expire": {
		"Für diese E-Mail-Adresse warten bereits Anfragen auf ihre Bestätigung. Bitte bestätigen Sie sie über den Link, den wir Ihnen per E-Mail gesendet haben, oder warten Sie, bis sie ablaufen.",
		"Des demandes provenant de cette adresse e-mail attendent déjà sa confirmation. Confirmez-les avec le lien que nous vous avons envoyé par e-mail, ou attendez qu'elles expirent.",
		"Ya hay solicitudes de esta dirección de correo electrónico pendientes de confirmación. Confírmelas con el enlace que le enviamos por correo electrónico o espere a que caduquen."},
	"has too many requests waiting for their email to be confirmed; use the link we emailed you": {
		"hat zu viele Anfragen, deren E-Mail-Adresse noch nicht bestätigt ist; bitte verwenden Sie den Link, den wir Ihnen per E-Mail gesendet haben",
		"a trop de demandes dont l'adresse e-mail attend une confirmation ; veuillez utiliser le lien que nous vous avons envoyé par e-mail",
		"tiene demasiadas solicitudes pendientes de confirmar el correo electrónico; use el enlace que le enviamos por correo electrónico"},
	"too many requests from your network are waiting for their email to be confirmed; please confirm yours with the link we emailed, or try again later": {
		"Zu viele Anfragen aus Ihrem Netzwerk warten auf die Bestätigung ihrer E-Mail-Adresse. Bitte bestätigen Sie Ihre über den Link, den wir Ihnen per E-Mail gesendet haben, oder versuchen Sie es später erneut.",
		"Trop de demandes provenant de votre réseau attendent la confirmation de leur adresse e-mail. Veuillez confirmer la vôtre avec le lien que nous vous avons envoyé par e-mail, ou réessayer plus tard.",
		"Demasiadas solicitudes de su red están pendientes de confirmar su correo electrónico. Confirme la suya con el enlace que le enviamos por correo electrónico o vuelva a intentarlo más tarde."},
	"we are receiving more requests than we can hold until their emails are confirmed; please try again in an hour": {
		"Wir erhalten mehr Anfragen, als wir bis zur Bestätigung ihrer E-Mail-Adressen aufnehmen können. Bitte versuchen Sie es in einer Stunde erneut.",
		"Nous recevons plus de demandes que nous ne pouvons en conserver jusqu'à la confirmation de leurs adresses e-mail. Veuillez réessayer dans une heure.",
		"Estamos recibiendo más solicitudes de las que podemos conservar hasta que se confirmen sus correos electrónicos. Vuelva a intentarlo dentro de una hora."},
	"a request with this Idempotency-Key is being processed; retry": {"Eine Anfrage mit diesem Idempotency-Key wird gerade verarbeitet. Bitte versuchen Sie es erneut.",
		"Une demande avec cette clé Idempotency-Key est en cours de traitement. Veuillez réessayer.", "Se está procesando una solicitud con esta Idempotency-Key. Vuelva a intentarlo."},
	"a request with this Idempotency-Key is still being processed; retry": {"Eine Anfrage mit diesem Idempotency-Key wird noch verarbeitet. Bitte versuchen Sie es erneut.",
		"Une demande avec cette clé Idempotency-Key est toujours en cours de traitement. Veuillez réessayer.",
		"Todavía se está procesando una solicitud con esta Idempotency-Key. Vuelva a intentarlo."},
	"was already used for a different request": {"wurde bereits für eine andere Anfrage verwendet", "a déjà été utilisée pour une autre demande", "ya se ha utilizado para otra solicitud"},
	// A JSON body (server/errors.go), the service's state, the rate limit.
	"not found": {"Nicht gefunden.", "Introuvable.", "No encontrado."},
	"the service cannot be reached right now; please try again in a few minutes": {"Der Dienst ist derzeit nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut.",
		"Le service est injoignable pour le moment. Veuillez réessayer dans quelques minutes.",
		"No se puede acceder al servicio en este momento. Vuelva a intentarlo dentro de unos minutos."},
	"send the body as application/json": {"Bitte senden Sie den Inhalt als application/json.", "Veuillez envoyer le contenu au format application/json.",
		"Envíe el contenido como application/json."},
	"the body must be a JSON object":             {"Der Inhalt muss ein JSON-Objekt sein.", "Le contenu doit être un objet JSON.", "El contenido debe ser un objeto JSON."},
	"the body must hold exactly one JSON object": {"Der Inhalt muss genau ein JSON-Objekt enthalten.", "Le contenu doit contenir exactement un objet JSON.", "El contenido debe contener exactamente un objeto JSON."},
	"the body is empty":                          {"Der Inhalt ist leer.", "Le contenu est vide.", "El contenido está vacío."},
	"the body is not valid JSON":                 {"Der Inhalt ist kein gültiges JSON.", "Le contenu n'est pas du JSON valide.", "El contenido no es JSON válido."},
	"a field has the wrong type":                 {"Ein Feld hat den falschen Typ.", "Un champ a un type incorrect.", "Un campo tiene un tipo incorrecto."},
	"must be a string":                           {"muss eine Zeichenkette sein", "doit être une chaîne de caractères", "debe ser una cadena de texto"},
	"must be true or false":                      {"muss true oder false sein", "doit être true ou false", "debe ser true o false"},
	"must be a whole number":                     {"muss eine ganze Zahl sein", "doit être un nombre entier", "debe ser un número entero"},
	"must be a number":                           {"muss eine Zahl sein", "doit être un nombre", "debe ser un número"},
	"must be a list":                             {"muss eine Liste sein", "doit être une liste", "debe ser una lista"},
	"must be an object":                          {"muss ein Objekt sein", "doit être un objet", "debe ser un objeto"},
	"must be of another type":                    {"muss einen anderen Typ haben", "doit être d'un autre type", "debe ser de otro tipo"},
	"unknown field":                              {"unbekanntes Feld", "champ inconnu", "campo desconocido"},
	"the server is busy checking passwords; try again in a moment": {"Der Server ist mit der Prüfung von Passwörtern ausgelastet. Bitte versuchen Sie es gleich noch einmal.",
		"Le serveur est occupé à vérifier des mots de passe. Veuillez réessayer dans un instant.", "El servidor está ocupado comprobando contraseñas. Vuelva a intentarlo en un momento."},
	"too many requests; try again later": {"Zu viele Anfragen. Bitte versuchen Sie es später erneut.", "Trop de requêtes. Veuillez réessayer plus tard.",
		"Demasiadas solicitudes. Vuelva a intentarlo más tarde."},
	// Passwords (passwords.Check).
	"is one of the most common passwords, which attackers try first: choose another": {
		"gehört zu den häufigsten Passwörtern, die Angreifer zuerst ausprobieren: Bitte wählen Sie ein anderes",
		"fait partie des mots de passe les plus courants, que les attaquants essaient en premier : veuillez en choisir un autre",
		"es una de las contraseñas más comunes, que los atacantes prueban primero: elija otra"},
	// Links and the portal's account (store/tokens.go, store/portal.go).
	"this link has already been used": {"Dieser Link wurde bereits verwendet.", "Ce lien a déjà été utilisé.", "Este enlace ya se ha utilizado."},
	"this link has expired":           {"Dieser Link ist abgelaufen.", "Ce lien a expiré.", "Este enlace ha caducado."},
	"this link is not valid":          {"Dieser Link ist ungültig.", "Ce lien n'est pas valide.", "Este enlace no es válido."},
	"is unknown":                      {"ist unbekannt", "est inconnu", "es desconocido"},
	"verify your email address first": {"Bitte bestätigen Sie zuerst Ihre E-Mail-Adresse.", "Veuillez d'abord confirmer votre adresse e-mail.",
		"Confirme primero su dirección de correo electrónico."},
	"the email address is not verified yet": {"die E-Mail-Adresse ist noch nicht bestätigt", "l'adresse e-mail n'est pas encore confirmée",
		"la dirección de correo electrónico aún no está confirmada"},
	"a portal account for this email address exists already: log in instead": {"Für diese E-Mail-Adresse besteht bereits ein Portalkonto: Bitte melden Sie sich stattdessen an.",
		"Un compte du portail existe déjà pour cette adresse e-mail : veuillez plutôt vous connecter.",
		"Ya existe una cuenta del portal para esta dirección de correo electrónico: inicie sesión en su lugar."},
	"an account exists already":   {"es besteht bereits ein Konto", "un compte existe déjà", "ya existe una cuenta"},
	"no such account":             {"Dieses Konto gibt es nicht.", "Ce compte n'existe pas.", "Esta cuenta no existe."},
	"no such request":             {"Diese Anfrage gibt es nicht.", "Cette demande n'existe pas.", "Esta solicitud no existe."},
	"no such attachment":          {"Diesen Anhang gibt es nicht.", "Cette pièce jointe n'existe pas.", "Este archivo adjunto no existe."},
	"the request has no messages": {"Die Anfrage hat keine Nachrichten.", "La demande n'a aucun message.", "La solicitud no tiene mensajes."},
	// Messages (server/messages.go, store/messages.go).
	"the form cannot be read": {"Das Formular kann nicht gelesen werden.", "Le formulaire ne peut pas être lu.", "No se puede leer el formulario."},
	"send the message as application/json or a form": {"Bitte senden Sie die Nachricht als application/json oder als Formular.",
		"Veuillez envoyer le message au format application/json ou sous forme de formulaire.", "Envíe el mensaje como application/json o como formulario."},
	"must be a PDF, PNG, JPEG, ZIP or plain-text (CSV, JSON, TXT) file": {"muss eine PDF-, PNG-, JPEG-, ZIP- oder Textdatei (CSV, JSON, TXT) sein",
		"doit être un fichier PDF, PNG, JPEG, ZIP ou texte brut (CSV, JSON, TXT)", "debe ser un archivo PDF, PNG, JPEG, ZIP o de texto sin formato (CSV, JSON, TXT)"},
	"you have sent as much as we take in a day; please try again tomorrow": {"Sie haben so viel gesendet, wie wir an einem Tag annehmen. Bitte versuchen Sie es morgen erneut.",
		"Vous avez envoyé autant que nous acceptons en une journée. Veuillez réessayer demain.", "Ha enviado todo lo que aceptamos en un día. Vuelva a intentarlo mañana."},
}

// errorPatterns translate the messages the code fills with a number or a
// size: {n} is an integer, {size} a size as humanBytes and sizeText write
// it (10 MiB, 1.5 MiB, 512 KiB, 300 bytes), written for the language.
var errorPatterns = []struct {
	english string
	texts   [3]string
}{
	{"must be at least {n} characters", [3]string{"muss mindestens {n} Zeichen lang sein", "doit comporter au moins {n} caractères", "debe tener al menos {n} caracteres"}},
	{"must be at most {size}", [3]string{"darf höchstens {size} groß sein", "ne doit pas dépasser {size}", "debe ocupar como máximo {size}"}},
	{"each file must be at most {size}", [3]string{"jede Datei darf höchstens {size} groß sein", "chaque fichier ne doit pas dépasser {size}", "cada archivo debe ocupar como máximo {size}"}},
	{"the identity document is larger than {size}", [3]string{"Das Ausweisdokument ist größer als {size}.", "La pièce d'identité dépasse {size}.",
		"El documento de identidad ocupa más de {size}."}},
	{"the form's text fields are larger than {size} together", [3]string{"Die Textfelder des Formulars sind zusammen größer als {size}.",
		"Les champs de texte du formulaire dépassent {size} au total.", "Los campos de texto del formulario ocupan en total más de {size}."}},
	{"the body is larger than {size}", [3]string{"Der Inhalt ist größer als {size}.", "Le contenu dépasse {size}.", "El contenido ocupa más de {size}."}},
	{"the message is larger than {size}", [3]string{"Die Nachricht ist größer als {size}.", "Le message dépasse {size}.", "El mensaje ocupa más de {size}."}},
	{"at most {n} files per message", [3]string{"höchstens {n} Dateien pro Nachricht", "au maximum {n} fichiers par message", "como máximo {n} archivos por mensaje"}},
	{"at most {n} messages a day on one request; please try again tomorrow", [3]string{
		"höchstens {n} Nachrichten pro Tag zu einer Anfrage; bitte versuchen Sie es morgen erneut",
		"au maximum {n} messages par jour pour une demande ; veuillez réessayer demain",
		"como máximo {n} mensajes al día en una solicitud; vuelva a intentarlo mañana"}},
	{"at most {n} messages a day on all your requests; please try again tomorrow", [3]string{
		"höchstens {n} Nachrichten pro Tag zu allen Ihren Anfragen zusammen; bitte versuchen Sie es morgen erneut",
		"au maximum {n} messages par jour pour l'ensemble de vos demandes ; veuillez réessayer demain",
		"como máximo {n} mensajes al día en el conjunto de sus solicitudes; vuelva a intentarlo mañana"}},
	{"at most {size} of files a day on one request; please try again tomorrow", [3]string{
		"höchstens {size} an Dateien pro Tag zu einer Anfrage; bitte versuchen Sie es morgen erneut",
		"au maximum {size} de fichiers par jour pour une demande ; veuillez réessayer demain",
		"como máximo {size} de archivos al día en una solicitud; vuelva a intentarlo mañana"}},
	{"at most {size} of files a day on all your requests; please try again tomorrow", [3]string{
		"höchstens {size} an Dateien pro Tag zu allen Ihren Anfragen zusammen; bitte versuchen Sie es morgen erneut",
		"au maximum {size} de fichiers par jour pour l'ensemble de vos demandes ; veuillez réessayer demain",
		"como máximo {size} de archivos al día en el conjunto de sus solicitudes; vuelva a intentarlo mañana"}},
}

// placeholders are what {n} and {size} match in an English message.
var placeholders = map[string]string{
	"{n}":    `(\d+)`,
	"{size}": `(\d+(?:\.\d)? MiB|\d+ KiB|\d+ bytes)`,
}

// errorPatternRes are errorPatterns' English texts as expressions, with
// the placeholder each holds.
var errorPatternRes = func() []patternRe {
	out := make([]patternRe, len(errorPatterns))
	for i, p := range errorPatterns {
		for ph, re := range placeholders {
			if before, after, ok := strings.Cut(p.english, ph); ok {
				out[i] = patternRe{regexp.MustCompile("^" + regexp.QuoteMeta(before) + re + regexp.QuoteMeta(after) + "$"), ph}
			}
		}
	}
	return out
}()

type patternRe struct {
	re          *regexp.Regexp
	placeholder string
}

// errorPattern is english translated by one of errorPatterns into l (its
// index in Langs), the number or size written for l; ok is false when no
// pattern matches.
func errorPattern(l Lang, english string) (string, bool) {
	for i, p := range errorPatternRes {
		m := p.re.FindStringSubmatch(english)
		if m == nil {
			continue
		}
		li := index(l.Or())
		if li == 0 {
			return english, true
		}
		var value string
		if p.placeholder == "{n}" {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				return english, true
			}
			value = Number(l, n)
		} else {
			value = sizeFor(l, m[1])
		}
		return strings.Replace(errorPatterns[i].texts[li-1], p.placeholder, value, 1), true
	}
	return "", false
}

// sizeFor writes a size as humanBytes wrote it in English for l: its
// number with l's digit grouping and decimal comma, its word for bytes.
func sizeFor(l Lang, english string) string {
	num, unit, _ := strings.Cut(english, " ")
	if unit == "bytes" {
		unit = T(l, "unit.bytes")
	}
	if strings.Contains(num, ".") {
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return english
		}
		return message.NewPrinter(l.Or().Tag()).Sprintf("%.1f %s", f, unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return english
	}
	return Number(l, n) + " " + unit
}

// Error is an English validation message in language l: the catalog's
// translation, "must be at most N characters" or one of errorPatterns with
// its number or size written for l, or the English text itself when none
// is known.
func Error(l Lang, english string) string {
	i := index(l.Or())
	if i == 0 {
		return english
	}
	if t, ok := errorTexts[english]; ok {
		return t[i-1]
	}
	var n int
	if _, err := fmt.Sscanf(english, "must be at most %d characters", &n); err == nil && strings.HasSuffix(english, "characters") {
		return T(l, "error.max_chars", n)
	}
	if t, ok := errorPattern(l, english); ok {
		return t
	}
	return english
}

// ErrorKnown reports whether an English validation message has its
// translations, for tests.
func ErrorKnown(english string) bool {
	if _, ok := errorTexts[english]; ok {
		return true
	}
	var n int
	if _, err := fmt.Sscanf(english, "must be at most %d characters", &n); err == nil && strings.HasSuffix(english, "characters") {
		return true
	}
	_, ok := errorPattern(English, english)
	return ok
}
